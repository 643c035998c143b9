"""web.http.paging: the one `Page` and its rule, for both policies on an oversized size."""

from __future__ import annotations

import pytest

from web.errors import RequestError
from web.http.paging import MAX_PAGE_NUMBER, MAX_PAGE_SIZE, Page, page_of


class TestPageOf:
    def test_defaults_and_window(self) -> None:
        """No parameters: page 1 of 20; page 3 of 10 starts at the 21st item."""
        assert page_of({}) == Page(1, 20)
        page = page_of({"page[number]": "3", "page[size]": "10"})
        assert (page.offset, page.window.offset, page.window.limit) == (20, 20, 10)
        assert page.meta(21) == {"total": 21, "page": 3, "per_page": 10, "total_pages": 3}

    @pytest.mark.parametrize("clamp_size", [False, True])
    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("page[number]", "0"),
            ("page[number]", str(MAX_PAGE_NUMBER + 1)),
            ("page[number]", ""),
            ("page[size]", "0"),
            ("page[size]", "-1"),
            ("page[size]", "ten"),
            ("page[size]", "١٠"),  # Arabic-Indic digits are not ASCII digits
        ],
    )
    def test_not_a_positive_integer_is_a_400_naming_the_parameter(
        self, name: str, value: str, clamp_size: bool
    ) -> None:
        """Both policies share every rule but the oversized size."""
        with pytest.raises(RequestError) as raised:
            page_of({name: value}, clamp_size=clamp_size)
        assert raised.value.status == 400
        assert raised.value.code == "invalid_parameter"
        assert raised.value.parameter == name

    def test_an_oversized_size_is_refused_or_clamped(self) -> None:
        """The public API's contract refuses 101; the admin API serves 100."""
        oversized = {"page[size]": str(MAX_PAGE_SIZE + 1)}
        with pytest.raises(RequestError):
            page_of(oversized)
        assert page_of(oversized, clamp_size=True).size == MAX_PAGE_SIZE
        assert page_of({"page[size]": "100"}).size == MAX_PAGE_SIZE
