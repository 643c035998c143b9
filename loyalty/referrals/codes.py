"""Each member's referral code and link: the referral package's name for
loyalty.customers.referral_codes, which lives with the customers so the syncs (below this
package) can show the code in metafields and marketing profiles."""

from loyalty.customers.referral_codes import (
    ALPHABET,
    LANDING_PATH,
    LENGTH,
    code_for,
    codes_for,
    find_advocate,
    links_for,
    normalize_code,
    referral_url,
)

__all__ = [
    "ALPHABET",
    "LANDING_PATH",
    "LENGTH",
    "code_for",
    "codes_for",
    "find_advocate",
    "links_for",
    "normalize_code",
    "referral_url",
]
