from rap_core.natural_sort import natural_key


def test_numbers_sort_as_numbers_and_letters_ignore_case():
    names = ["V10", "v2", "V1", "V1_t10", "V1_t2", "mean_area", "Mean_radius", "x", "V9"]
    assert sorted(names, key=natural_key) == [
        "mean_area", "Mean_radius", "V1", "V1_t2", "V1_t10", "v2", "V9", "V10", "x"]


def test_mixed_shapes_never_compare_a_number_with_text():
    names = ["10", "a", "1a", "a1", "", "_", "1", "a01", "a1b"]
    assert sorted(names, key=natural_key)  # no TypeError
    assert sorted(["a01", "a1"], key=natural_key) == ["a01", "a1"]  # equal numbers: by name
