from shebao.platform.regions.registry import registry


def test_tianjin_is_discovered_through_its_entry_point():
    reg = registry()
    mine = [r for r in reg.all() if r.plugin == "tianjin"]
    assert [r.region.code for r in mine] == ["tianjin"]
