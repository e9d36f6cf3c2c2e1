"""topic_echo's choice of topics: under its namespaces, and /diagnostics unless told not to."""

from robot_bridges.tools.topic_echo import wanted


def test_diagnostics_are_printed_unless_told_not_to_whatever_the_namespaces() -> None:
    namespaces = ('/victor/', '/dfx/')
    assert wanted('/victor/mic_direction', namespaces, diagnostics=False)
    assert not wanted('/reachy/joint_states', namespaces, diagnostics=True)
    assert wanted('/diagnostics', namespaces, diagnostics=True)
    assert not wanted('/diagnostics', namespaces, diagnostics=False)
    assert not wanted('/diagnostics', ('/',), diagnostics=False)  # even under everything
    assert wanted('/reachy/joint_states', ('/',), diagnostics=False)
    assert not wanted('/victor/rosout', namespaces, diagnostics=True)
