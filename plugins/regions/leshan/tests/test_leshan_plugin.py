from shebao.platform.regions.registry import registry


def test_leshan_is_discovered_through_its_entry_point():
    reg = registry()
    mine = [r for r in reg.all() if r.plugin == "leshan"]
    assert [r.region.code for r in mine] == ["leshan"]
