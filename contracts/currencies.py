"""ISO 4217 currency codes an invoice may be issued in, and their minor units.

Circulating currencies of ISO 4217 list one (2025 edition). Fund codes (BOV, CHE, CHW, CLF,
COU, MXV, USN, UYI, UYW), precious metals (XAG, XAU, XPD, XPT), SDR/unit-of-account codes and
the testing codes (XTS, XXX) are left out on purpose: no invoice is billed in them. ANG and BGN
stay while their replacements (XCG, EUR) phase in, so recent documents still validate.

`minor_units` is the number of decimals ISO 4217 gives a currency (JPY 0, EUR 2, KWD 3). The
list's own column is followed, not local practice: HUF and IDR keep 2 although their cents no
longer circulate, since invoices still print them.
"""

from __future__ import annotations

_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS
    TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF
    YER ZAR ZMW ZWG
"""

ACTIVE_CURRENCIES: frozenset[str] = frozenset(_CODES.split())

# Every active currency not listed here has 2 decimals.
_ZERO_DECIMALS: frozenset[str] = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_THREE_DECIMALS: frozenset[str] = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})

DEFAULT_MINOR_UNITS = 2
"""What an unknown or missing currency is assumed to have: most currencies use cents."""


def minor_units(code: str | None) -> int:
    """The decimals of `code`'s minor unit: 0 (JPY), 3 (KWD, BHD, …) or 2 (the rest, or unknown)."""
    if code is None:
        return DEFAULT_MINOR_UNITS
    code = code.strip().upper()
    if code in _ZERO_DECIMALS:
        return 0
    if code in _THREE_DECIMALS:
        return 3
    return DEFAULT_MINOR_UNITS
