"""A key's allowed networks: what is stored (canonical, or refused in words naming the entry) and
which addresses a restricted key lets in (only those inside; anything else, never an error)."""

from __future__ import annotations

import pytest

from chalicelib.authorizer.addresses import MAX_NETWORKS, allows, networks

EXAMPLE = "e.g. 203.0.113.0/24 or 2001:db8::/32"


def refusal(entries: list[str]) -> str:
    with pytest.raises(ValueError) as caught:
        networks(entries)
    return str(caught.value)


# -- what is stored ----------------------------------------------------------------------------------


def test_networks_are_stored_in_their_canonical_form_in_the_order_given():
    given = ["2001:DB8::/32", "203.0.113.0/24", "192.0.2.7", "2001:db8:1::1", "10.0.0.0/08", "0.0.0.0/0", "::/0"]
    assert networks(given) == [
        "2001:db8::/32", "203.0.113.0/24", "192.0.2.7/32", "2001:db8:1::1/128", "10.0.0.0/8", "0.0.0.0/0", "::/0",
    ]  # fmt: skip
    assert networks([]) == []


def test_up_to_twenty_networks_and_not_one_more():
    twenty = [f"10.0.{n}.0/24" for n in range(MAX_NETWORKS)]
    assert MAX_NETWORKS == 20 and networks(twenty) == twenty
    assert refusal([*twenty, "10.0.99.0/24"]) == "at most 20 networks, not 21"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("10.0.0.1/8", "'10.0.0.1/8' has host bits set; the network is 10.0.0.0/8"),
        ("2001:db8::1/32", "'2001:db8::1/32' has host bits set; the network is 2001:db8::/32"),
        ("10.0.0.0/33", "'10.0.0.0/33': an IPv4 prefix is at most /32"),
        ("::/129", "'::/129': an IPv6 prefix is at most /128"),
        ("fe80::1%eth0", "'fe80::1%eth0': a network has no zone (%eth0)"),
        ("fe80::%eth0/64", "'fe80::%eth0/64': a network has no zone (%eth0)"),
        ("example.com", f"'example.com' is not a network in CIDR form, {EXAMPLE}"),
        ("", f"'' is not a network in CIDR form, {EXAMPLE}"),
        (" 10.0.0.0/8", f"' 10.0.0.0/8' is not a network in CIDR form, {EXAMPLE}"),
        ("010.0.0.0/8", f"'010.0.0.0/8' is not a network in CIDR form, {EXAMPLE}"),
        ("10.0.0.0/255.0.0.0", f"'10.0.0.0/255.0.0.0': the prefix must be a length in bits, {EXAMPLE}"),
        ("10.0.0.0/", f"'10.0.0.0/': the prefix must be a length in bits, {EXAMPLE}"),
        ("10.0.0.0/+8", f"'10.0.0.0/+8': the prefix must be a length in bits, {EXAMPLE}"),
        ("10.0.0.0/\u0668", f"'10.0.0.0/\u0668': the prefix must be a length in bits, {EXAMPLE}"),  # Arabic-Indic 8
        ("10.0.0.0/0008", f"'10.0.0.0/0008': the prefix must be a length in bits, {EXAMPLE}"),
        ("10.0.0.0/8/8", f"'10.0.0.0/8/8': the prefix must be a length in bits, {EXAMPLE}"),
    ],
)
def test_an_entry_that_is_not_a_network_is_refused_naming_it(entry, message):
    assert refusal(["192.0.2.0/24", entry]) == message


def test_prefixes_up_to_the_address_length_are_networks():
    assert networks(["10.0.0.1/32", "10.0.0.0/008", "2001:db8::1/128", "2001:db8::/032"]) == [
        "10.0.0.1/32", "10.0.0.0/8", "2001:db8::1/128", "2001:db8::/32",
    ]  # fmt: skip


def test_a_network_named_twice_is_refused_even_when_spelled_differently():
    assert refusal(["2001:db8::/32", "192.0.2.0/24", "2001:DB8::/32"]) == "'2001:DB8::/32' repeats 2001:db8::/32"
    assert refusal(["192.0.2.7", "192.0.2.7/32"]) == "'192.0.2.7/32' repeats 192.0.2.7/32"


def test_a_long_entry_is_quoted_cut_to_sixty_characters():
    whole = "a" * 60
    assert refusal([whole]) == f"{whole!r} is not a network in CIDR form, {EXAMPLE}"
    cut = "b" * 57 + "..."
    assert refusal(["b" * 61]) == f"{cut!r} is not a network in CIDR form, {EXAMPLE}"
    assert refusal(["1.2.3.4/" + "9" * 5000]).startswith("'1.2.3.4/" + "9" * 49 + "...': the prefix must be")


# -- which addresses a restricted key lets in --------------------------------------------------------


def test_no_list_lets_every_address_in_even_one_that_is_not_an_address():
    for address in ("203.0.113.5", "2001:db8::1", "test-invoke-source-ip", "", None):
        assert allows([], address) is True


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("203.0.113.0", True),
        ("203.0.113.255", True),
        ("203.0.112.255", False),
        ("203.0.114.0", False),
        ("198.51.100.7", True),
        ("198.51.100.8", False),
        ("2001:db8:ffff::1", True),
        ("2001:db9::1", False),
        ("::ffff:203.0.113.9", True),  # how a dual-stack socket shows an IPv4 address
        ("::ffff:192.0.2.1", False),
    ],
)
def test_a_restricted_key_lets_in_only_addresses_inside_one_of_its_networks(address, allowed):
    assert allows(["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32"], address) is allowed


@pytest.mark.parametrize(
    "address",
    ["test-invoke-source-ip", "", " 203.0.113.5", "203.0.113.5, 198.51.100.7", "203.0.113.0/24", None, 3405803781],
)
def test_anything_that_is_not_an_address_is_refused_by_a_restricted_key_never_raised(address):
    assert allows(["0.0.0.0/0", "::/0"], address) is False


def test_an_ipv6_address_is_outside_every_ipv4_network_and_back():
    assert allows(["0.0.0.0/0"], "2001:db8::1") is False
    assert allows(["::/0"], "203.0.113.5") is False


def test_a_stored_entry_that_is_not_a_network_matches_nothing_and_the_others_still_count():
    assert allows(["not-a-network", "10.0.0.1/8"], "10.0.0.1") is False
    assert allows(["not-a-network", "10.0.0.0/8"], "10.0.0.1") is True
