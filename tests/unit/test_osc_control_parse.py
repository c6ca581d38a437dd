from __future__ import annotations

import pytest

from bridge.osc_control import OscAddressError, parse_osc_control


def test_scalar_vector_and_glide_forms():
    assert parse_osc_control("/bridge/main/stylize/strength", (0.5,)) == ("main", "stylize", "strength", 0.5, None)
    assert parse_osc_control("/bridge/*/stylize/style_weights", (0.0, 1.0)) == (
        "*", "stylize", "style_weights", [0.0, 1.0], None)
    assert parse_osc_control("/bridge/0/film_look/grain/glide", (2000, 0.8)) == ("0", "film_look", "grain", 0.8, 2000.0)


@pytest.mark.parametrize(
    "address, args, fragment",
    [
        ("/other/main/stylize/strength", (1.0,), "is not /bridge/"),
        ("/bridge/main/stylize", (1.0,), "is not /bridge/"),
        ("/bridge/main/stylize/strength/fade", (1.0, 1.0), "is not /bridge/"),
        ("/bridge/main/stylize/strength", (), "no value given"),
        ("/bridge/main/stylize/strength/glide", ("slow", 1.0), "glide time in milliseconds"),
        ("/bridge/main/stylize/strength/glide", (500,), "no value given"),
    ],
)
def test_bad_addresses_are_explained(address, args, fragment):
    with pytest.raises(OscAddressError) as info:
        parse_osc_control(address, args)
    assert fragment in str(info.value)
