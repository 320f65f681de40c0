from shebao.platform.regions.registry import registry


def test_fujian_is_discovered_through_its_entry_point():
    reg = registry()
    mine = [r for r in reg.all() if r.plugin == "fujian"]
    assert [r.region.code for r in mine] == ["fujian.fuzhou", "fujian.xiamen"]
