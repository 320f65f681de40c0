from shebao.platform.regions.registry import registry


def test_yunnan_is_discovered_through_its_entry_point():
    reg = registry()
    mine = [r for r in reg.all() if r.plugin == "yunnan"]
    assert [r.region.code for r in mine] == ["yunnan.kunming", "yunnan.lijiang"]
