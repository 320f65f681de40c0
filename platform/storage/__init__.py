"""Where files live: uploaded attachments and generated documents, behind one :class:`Storage` interface."""
