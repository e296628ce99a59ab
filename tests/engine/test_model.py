from custom_components.headroom.engine.model import Supply


def test_supply_phases() -> None:
    assert Supply.SINGLE_PHASE.phases == (1,)
    assert Supply.SPLIT_PHASE.phases == (1, 2)
    assert Supply.THREE_PHASE.phases == (1, 2, 3)
