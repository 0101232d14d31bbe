"""ISO 4217 currency codes an invoice may be issued in.

Circulating currencies of ISO 4217 list one (2025 edition). Fund codes (BOV, CHE, CHW, CLF,
COU, MXV, USN, UYI, UYW), precious metals (XAG, XAU, XPD, XPT), SDR/unit-of-account codes and
the testing codes (XTS, XXX) are left out on purpose: no invoice is billed in them. ANG and BGN
stay while their replacements (XCG, EUR) phase in, so recent documents still validate.
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
