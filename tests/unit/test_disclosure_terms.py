"""Search terms for disclosure documents: Chinese bigrams, Latin words."""

from govbus.stores.disclosure import terms


def test_chinese_text_gives_overlapping_bigrams():
    assert terms("营业执照") == ["营业", "业执", "执照"]


def test_latin_words_are_lower_cased_and_full_width_forms_folded():
    assert terms("Business ＬＩＣＥＮＣＥ 2024") == ["business", "licence", "2024"]


def test_punctuation_splits_runs_and_repeats_count_once():
    assert terms("执照，执照。") == ["执照"]


def test_a_lone_chinese_character_stands_for_itself():
    assert terms("照 a") == ["照", "a"]
