"""Data-centre ranges: lookup, merging of nested ranges, provider file parsers."""

from __future__ import annotations

import ipaddress
import json
import random
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apex_mediation.ivt.ranges import (
    SHIPPED_FILE,
    IpRanges,
    detect_format,
    parse_aws,
    parse_azure,
    parse_csv,
    parse_gcp,
    parse_oracle,
    parse_plain,
    parse_ranges,
    shipped_ranges,
)

AWS_SAMPLE = json.dumps(
    {
        "syncToken": "1732512183",
        "createDate": "2026-11-25-05-23-03",
        "prefixes": [
            {
                "ip_prefix": "3.80.0.0/12",
                "region": "us-east-1",
                "service": "AMAZON",
                "network_border_group": "us-east-1",
            },
            {
                "ip_prefix": "3.80.0.0/12",
                "region": "us-east-1",
                "service": "EC2",
                "network_border_group": "us-east-1",
            },
            {
                "ip_prefix": "13.34.37.64/27",
                "region": "ap-southeast-4",
                "service": "AMAZON",
                "network_border_group": "ap-southeast-4",
            },
        ],
        "ipv6_prefixes": [
            {
                "ipv6_prefix": "2600:1f18::/36",
                "region": "us-east-1",
                "service": "EC2",
                "network_border_group": "us-east-1",
            }
        ],
    },
    indent=2,
)
GCP_SAMPLE = json.dumps(
    {
        "syncToken": "1732550400000",
        "creationTime": "2026-11-25T08:00:00.000000",
        "prefixes": [
            {"ipv4Prefix": "34.1.208.0/20", "service": "Google Cloud", "scope": "africa-south1"},
            {"ipv6Prefix": "2600:1900:8000::/44", "service": "Google Cloud", "scope": "africa"},
            {"ipv4Prefix": "35.184.0.0/16", "service": "Google Cloud", "scope": "us-central1"},
        ],
    }
)
AZURE_SAMPLE = json.dumps(
    {
        "changeNumber": 310,
        "cloud": "Public",
        "values": [
            {
                "name": "AzureCloud",
                "id": "AzureCloud",
                "properties": {
                    "changeNumber": 280,
                    "region": "",
                    "regionId": 0,
                    "platform": "Azure",
                    "systemService": "",
                    "addressPrefixes": ["13.64.0.0/16", "20.33.0.0/16", "2603:1000::/40"],
                    "networkFeatures": ["API", "NSG", "UDR", "FW"],
                },
            },
            {
                "name": "AzureCloud.westus",
                "id": "AzureCloud.westus",
                "properties": {
                    "changeNumber": 41,
                    "region": "westus",
                    "regionId": 1,
                    "platform": "Azure",
                    "systemService": "",
                    "addressPrefixes": ["13.64.0.0/16"],
                },
            },
        ],
    }
)
ORACLE_SAMPLE = json.dumps(
    {
        "last_updated_timestamp": "2026-11-20T21:18:03.213795",
        "regions": [
            {
                "region": "us-phoenix-1",
                "cidrs": [
                    {"cidr": "129.146.0.0/21", "tags": ["OCI"]},
                    {"cidr": "134.70.8.0/21", "tags": ["OBJECT_STORAGE"]},
                ],
            },
            {"region": "eu-frankfurt-1", "cidrs": [{"cidr": "130.61.0.0/16", "tags": ["OCI"]}]},
        ],
    }
)
DIGITALOCEAN_SAMPLE = (
    "5.101.96.0/21,NL,NL-NH,Amsterdam,1098 XH\n"
    "24.144.64.0/22,US,US-NJ,North Bergen,07047\n"
    "2604:a880::/32,US,US-NY,New York,10011\n"
)
PLAIN_SAMPLE = "# my hosting list\n\n203.0.113.0/24\n198.51.100.7   # one host\n2001:db8::/32\n"


# -- IpRanges ---------------------------------------------------------------------------------


def test_ipv4_ipv6_and_mapped_membership() -> None:
    ranges = IpRanges([("192.0.2.0/24", "v4"), ("2001:db8:1::/48", "v6")])
    assert ranges.lookup("192.0.2.77") == "v4"
    assert ranges.lookup("::ffff:192.0.2.77") == "v4"  # IPv4-mapped IPv6 is the IPv4 address
    assert ranges.lookup("::FFFF:c000:024d") == "v4"
    assert ranges.lookup("2001:db8:1:ffff::1") == "v6"
    assert ranges.lookup("2001:db8:1::1%eth0") == "v6"
    assert ranges.lookup("[2001:db8:1::1]") == "v6"
    assert ranges.lookup(" 192.0.2.1 ") == "v4"
    assert ranges.lookup("192.0.3.1") is None
    assert ranges.lookup("2001:db8:2::1") is None
    # An IPv4 range does not claim the IPv6 addresses with the same low bits.
    assert ranges.lookup("::c000:24d") is None
    assert "192.0.2.1" in ranges and "192.0.3.1" not in ranges
    assert len(ranges) == 2


def test_mapped_ranges_are_stored_as_ipv4() -> None:
    ranges = IpRanges([("::ffff:198.51.100.0/120", "mapped")])
    assert ranges.lookup("198.51.100.9") == "mapped"
    assert ranges.lookup("::ffff:198.51.100.9") == "mapped"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "abc", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/24", "::g", "1.2.3.4\x00",
     "01.2.3.4", "[1.2.3.4", "1.2.3.4:443"],
)  # fmt: skip
def test_invalid_addresses_are_none_never_an_error(text: str) -> None:
    ranges = IpRanges([("0.0.0.0/0", "all"), ("::/0", "all6")])
    assert ranges.lookup(text) is None


def test_range_boundaries() -> None:
    ranges = IpRanges([("198.51.100.0/24", "a"), ("2001:db8::/126", "b")])
    assert ranges.lookup("198.51.99.255") is None
    assert ranges.lookup("198.51.100.0") == "a"
    assert ranges.lookup("198.51.100.255") == "a"
    assert ranges.lookup("198.51.101.0") is None
    assert ranges.lookup("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff") is None
    assert ranges.lookup("2001:db8::") == "b"
    assert ranges.lookup("2001:db8::3") == "b"
    assert ranges.lookup("2001:db8::4") is None
    assert ranges.lookup("0.0.0.0") is None
    assert ranges.lookup("255.255.255.255") is None


def test_extreme_addresses() -> None:
    ranges = IpRanges([("0.0.0.0/8", "low"), ("255.255.255.0/24", "high"), ("::/128", "zero")])
    assert ranges.lookup("0.0.0.0") == "low"
    assert ranges.lookup("255.255.255.255") == "high"
    assert ranges.lookup("::") == "zero"
    assert ranges.lookup("::1") is None


def test_nested_ranges_answer_the_narrowest() -> None:
    ranges = IpRanges(
        [
            ("10.0.0.0/8", "wide"),
            ("10.1.2.0/24", "narrow"),
            ("10.1.0.0/16", "middle"),
            ("10.200.0.0/16", "other"),
        ]
    )
    assert ranges.lookup("10.0.0.1") == "wide"
    assert ranges.lookup("10.1.0.0") == "middle"
    assert ranges.lookup("10.1.1.255") == "middle"
    assert ranges.lookup("10.1.2.0") == "narrow"
    assert ranges.lookup("10.1.2.255") == "narrow"
    assert ranges.lookup("10.1.3.0") == "middle"
    assert ranges.lookup("10.1.255.255") == "middle"
    assert ranges.lookup("10.2.0.0") == "wide"
    assert ranges.lookup("10.199.255.255") == "wide"
    assert ranges.lookup("10.200.0.0") == "other"
    assert ranges.lookup("10.201.0.0") == "wide"
    assert ranges.lookup("10.255.255.255") == "wide"
    assert ranges.lookup("11.0.0.0") is None


def test_overlapping_ranges_of_one_source_merge() -> None:
    ranges = IpRanges(
        [
            ("203.0.113.0/25", "dc"),
            ("203.0.113.128/25", "dc"),
            ("203.0.113.0/24", "dc"),
            ("203.0.113.64/26", "dc"),
            ("203.0.114.0/24", "dc"),
        ]
    )
    table = ranges._v4
    assert (table.starts, table.ends, table.sources) == (
        [int(ipaddress.ip_address("203.0.113.0"))],
        [int(ipaddress.ip_address("203.0.114.255"))],
        ["dc"],
    )


def test_identical_ranges_keep_the_last_source() -> None:
    ranges = IpRanges([("192.0.2.0/24", "first"), ("192.0.2.0/24", "second")])
    assert ranges.lookup("192.0.2.1") == "second"


def test_an_invalid_cidr_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r"'192\.0\.2\.0/33' is not a valid CIDR"):
        IpRanges([("192.0.2.0/24", "ok"), ("192.0.2.0/33", "bad")])


def test_empty() -> None:
    ranges = IpRanges([])
    assert len(ranges) == 0
    assert ranges.lookup("192.0.2.1") is None
    assert ranges.lookup("2001:db8::1") is None


_cidrs = st.one_of(
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
        lambda t: str(ipaddress.ip_network((t[0], t[1]), strict=False))
    ),
    st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 128)).map(
        lambda t: str(ipaddress.ip_network((t[0], t[1]), strict=False))
    ),
)


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _as_ipv4_if_mapped(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """IpRanges stores ranges inside ::ffff:0:0/96 as the IPv4 ranges they map."""
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None
        return ipaddress.IPv4Network((int(mapped), network.prefixlen - 96))
    return network


@settings(max_examples=200, deadline=None)
@given(
    cidrs=st.lists(st.tuples(_cidrs, st.sampled_from("abc")), max_size=30),
    probes=st.lists(st.integers(0, 2**32 - 1), max_size=20),
)
def test_lookup_matches_a_brute_force_search(
    cidrs: list[tuple[str, str]], probes: list[int]
) -> None:
    ranges = IpRanges(cidrs)
    networks = [(_as_ipv4_if_mapped(ipaddress.ip_network(c)), source) for c, source in cidrs]
    # Probe every range's edges and their neighbours, plus random addresses.
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [
        ipaddress.IPv4Address(p) for p in probes
    ]
    for network, _ in networks:
        first, last = int(network.network_address), int(network.broadcast_address)
        top = 2**network.max_prefixlen - 1
        for n in (first - 1, first, last, last + 1):
            if 0 <= n <= top:
                addresses.append(ipaddress.ip_address(n) if network.version == 4 else
                                 ipaddress.IPv6Address(n))  # fmt: skip
    for address in addresses:
        containing = [
            (network.prefixlen, i, source)
            for i, (network, source) in enumerate(networks)
            if network.version == address.version and address in network
        ]
        expected = max(containing)[2] if containing else None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            continue  # looked up as IPv4 by design, covered by test_mapped_ranges
        assert ranges.lookup(str(address)) == expected, address


def test_fifty_thousand_ranges() -> None:
    rng = random.Random(20261125)
    blocks = rng.sample(range(2**24), 50_000)
    cidrs = [(f"{b >> 16}.{(b >> 8) & 255}.{b & 255}.0/24", f"s{b % 7}") for b in blocks]
    ranges = IpRanges(cidrs)  # well under a second; the check is correctness, not time
    listed = {b: source for (_, source), b in zip(cidrs, blocks, strict=True)}
    for _ in range(10_000):
        block = rng.randrange(2**24)
        address = f"{block >> 16}.{(block >> 8) & 255}.{block & 255}.{rng.randrange(256)}"
        assert ranges.lookup(address) == listed.get(block)
    for block in blocks[:1000]:
        assert ranges.lookup(f"{block >> 16}.{(block >> 8) & 255}.{block & 255}.9") == listed[block]


# -- Parsers ----------------------------------------------------------------------------------


def test_aws() -> None:
    assert parse_aws(AWS_SAMPLE) == ["3.80.0.0/12", "13.34.37.64/27", "2600:1f18::/36"]


def test_gcp() -> None:
    assert parse_gcp(GCP_SAMPLE) == ["34.1.208.0/20", "2600:1900:8000::/44", "35.184.0.0/16"]


def test_azure() -> None:
    assert parse_azure(AZURE_SAMPLE) == ["13.64.0.0/16", "20.33.0.0/16", "2603:1000::/40"]


def test_oracle() -> None:
    assert parse_oracle(ORACLE_SAMPLE) == ["129.146.0.0/21", "134.70.8.0/21", "130.61.0.0/16"]


def test_digitalocean_csv() -> None:
    assert parse_csv(DIGITALOCEAN_SAMPLE) == ["5.101.96.0/21", "24.144.64.0/22", "2604:a880::/32"]


def test_csv_with_header_and_comments() -> None:
    text = "# geofeed\nip_prefix,country\n192.0.2.0/24,US\n\n198.51.100.0/24,CA\n"
    assert parse_csv(text) == ["192.0.2.0/24", "198.51.100.0/24"]


def test_plain() -> None:
    assert parse_plain(PLAIN_SAMPLE) == ["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32"]


def test_cidrs_are_normalised() -> None:
    assert parse_plain("192.0.2.77/24\n2001:DB8::1/32\n") == ["192.0.2.0/24", "2001:db8::/32"]


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        (AWS_SAMPLE, "aws"),
        (GCP_SAMPLE, "gcp"),
        (AZURE_SAMPLE, "azure"),
        (ORACLE_SAMPLE, "oracle"),
        (DIGITALOCEAN_SAMPLE, "csv"),
        (PLAIN_SAMPLE, "plain"),
        ("\ufeff" + AWS_SAMPLE, "aws"),
        ('{"syncToken": "1", "createDate": "2026", "prefixes": []}', "aws"),
        ('{"syncToken": "1", "creationTime": "2026", "prefixes": []}', "gcp"),
    ],
)
def test_format_detection(text: str, fmt: str) -> None:
    assert detect_format(text) == fmt
    detected, cidrs = parse_ranges(text)
    assert detected == fmt
    assert cidrs == parse_ranges(text, fmt)[1]


def test_explicit_format_wins() -> None:
    # A one-column list without commas reads as plain, but the operator may say csv.
    assert parse_ranges("192.0.2.0/24\n", "csv") == ("csv", ["192.0.2.0/24"])
    assert parse_ranges("192.0.2.0/24\n", "PLAIN") == ("plain", ["192.0.2.0/24"])


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        (
            json.dumps({"prefixes": [{"ip_prefix": "3.5.140.0/22"}, {"ip_prefix": "3.5.140/22"}]}),
            None,
            r"aws: prefixes\[1\]\.ip_prefix: '3\.5\.140/22' is not a valid CIDR",
        ),
        (
            json.dumps({"prefixes": [{"ip_prefix": None}]}),
            "aws",
            r"aws: prefixes\[0\]\.ip_prefix: expected a CIDR string, got None",
        ),
        (
            json.dumps({"ipv6_prefixes": [{"ipv6_prefix": "2600:1f18::/129"}]}),
            None,
            r"aws: ipv6_prefixes\[0\]\.ipv6_prefix: '2600:1f18::/129'",
        ),
        (
            json.dumps({"prefixes": [{"ipv4Prefix": "34.1.208.0/20"}, {"scope": "x"}]}),
            None,
            r"gcp: prefixes\[1\]: neither ipv4Prefix nor ipv6Prefix",
        ),
        (
            json.dumps(
                {
                    "values": [
                        {
                            "name": "AzureCloud",
                            "properties": {"addressPrefixes": ["13.64.0.0/16", "13.64.0.0/160"]},
                        }
                    ]
                }
            ),
            None,
            r"azure: values\[0\] \(AzureCloud\)\.properties\.addressPrefixes\[1\]: "
            r"'13\.64\.0\.0/160'",
        ),
        (
            json.dumps({"regions": [{"region": "us-ashburn-1", "cidrs": [{"cidr": "x"}]}]}),
            None,
            r"oracle: regions\[0\] \(us-ashburn-1\)\.cidrs\[0\]\.cidr: 'x' is not a valid CIDR",
        ),
        ("5.101.96.0/21,NL\nnot-a-cidr,XX\n", None, r"csv: line 2: 'not-a-cidr'"),
        ("# list\n192.0.2.0/24\n192.0.2.300/32\n", None, r"plain: line 3: '192\.0\.2\.300/32'"),
        ("0.0.0.0/0\n", None, r"plain: line 1: '0\.0\.0\.0/0' is wider than /8"),
        ("2000::/3\n", None, r"plain: line 1: '2000::/3' is wider than /16"),
        ('{"something": "else"}', None, r"unrecognised JSON"),
        ("[1, 2]", None, r"unrecognised JSON"),
        ('{"prefixes": [', None, r"json: not valid JSON"),
        ('{"prefixes": [', "aws", r"aws: not valid JSON"),
        ("192.0.2.0/24", "xml", r"unknown format 'xml'"),
    ],
)
def test_bad_entries_are_errors_naming_them(text: str, fmt: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ranges(text, fmt)


# -- Shipped list -----------------------------------------------------------------------------


def test_shipped_ranges() -> None:
    shipped = shipped_ranges()
    assert len(shipped) > 100
    assert {source for _, source in shipped} == {SHIPPED_FILE}
    ranges = IpRanges(shipped)
    for address in ("159.203.10.10", "95.217.1.1", "34.70.1.1", "3.90.1.1", "13.66.1.1",
                    "2a01:4f8:c0c::1", "2604:a880:400::1"):  # fmt: skip
        assert ranges.lookup(address) == SHIPPED_FILE, address
    # Public resolvers, CDN and relay edges, and consumer ISPs are people's paths, not hosting.
    for address in ("8.8.8.8", "1.1.1.1", "104.16.0.1", "172.64.1.1", "17.253.0.1",
                    "24.0.0.1", "92.184.0.1", "2001:4860:4860::8888"):  # fmt: skip
        assert ranges.lookup(address) is None, address


def test_shipped_file_header() -> None:
    text = resources.files("apex_mediation.ivt").joinpath("data", SHIPPED_FILE)
    header = text.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert "# source:" in header
    assert "# date: 2026-11-25" in header
    assert "apex ivt load-ranges FILE" in header


def test_shipped_ranges_do_not_overlap() -> None:
    networks = [ipaddress.ip_network(cidr) for cidr, _ in shipped_ranges()]
    for i, a in enumerate(networks):
        for b in networks[i + 1 :]:
            assert not (a.version == b.version and a.overlaps(b)), (a, b)
