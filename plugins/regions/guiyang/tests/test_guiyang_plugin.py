from shebao.platform.regions.registry import registry


def test_guiyang_is_discovered_through_its_entry_point():
    reg = registry()
    mine = [r for r in reg.all() if r.plugin == "guiyang"]
    assert [r.region.code for r in mine] == ["guiyang"]
