-- The PostgreSQL roles of deploy/README.md, for a fresh server (compose runs this once, from
-- /docker-entrypoint-initdb.d, as the superuser; psql 15 or later for \getenv).
--
--   shebao_owner  owns the database and its schema; `shebao migrate` connects as it
--   shebao_app    the group role the migrations grant table privileges to (NOLOGIN)
--   shebao_web    the login role the API and the workers connect as: no superuser, no BYPASSRLS,
--                 so row-level security applies to it
--
-- The passwords come from the environment (SHEBAO_OWNER_PASSWORD, SHEBAO_WEB_PASSWORD), never
-- from this file. Elsewhere: psql -v ON_ERROR_STOP=1 -f 10-shebao-roles.sql with both set.

\set ON_ERROR_STOP on
\getenv owner_password SHEBAO_OWNER_PASSWORD
\getenv web_password SHEBAO_WEB_PASSWORD

CREATE ROLE shebao_owner LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE DATABASE shebao OWNER shebao_owner;
REVOKE ALL ON DATABASE shebao FROM PUBLIC;

-- The first migration creates shebao_app when the owner may; the owner here may not create roles.
CREATE ROLE shebao_app NOLOGIN;
GRANT CONNECT, TEMPORARY ON DATABASE shebao TO shebao_app;

CREATE ROLE shebao_web LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'web_password';
GRANT shebao_app TO shebao_web;
