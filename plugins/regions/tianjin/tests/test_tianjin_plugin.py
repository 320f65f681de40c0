from shebao.platform.regions.testing import conformance_suite

TestTianjin = conformance_suite("tianjin")
