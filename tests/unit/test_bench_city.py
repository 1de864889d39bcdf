"""The city bench refuses a first load the disk cannot hold, before it loads anything."""

from bench import city

GIB = 2**30


def test_the_first_city_load_of_2026_12_03_would_not_have_fit_beside_ci():
    # 5.9 GiB of files made a 58 GB database; 20 GiB free is nowhere near
    message = city.disk_shortfall(int(5.9 * GIB), 20 * GIB)
    assert message is not None
    assert "needs about 75 GiB free and 20 GiB are" in message and "XINYONG_HOME" in message


def test_a_load_that_fits_goes_ahead():
    assert city.disk_shortfall(int(5.9 * GIB), 80 * GIB) is None
    assert city.disk_shortfall(GIB, 21 * GIB) is None
