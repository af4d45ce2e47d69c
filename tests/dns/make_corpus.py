#!/usr/bin/env python3
"""Writes the fuzz seed corpus for fuzzParseQuery() into tests/dns/corpus/ (small hand-made packets).

The four dig-*.bin seeds are queries captured from dig 9.18 against a UDP listener on 127.0.0.1.
Re-run after changing a seed; review the binary diff (xxd) before committing.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def name(text):
    out = b""
    for label in text.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def header(id_, flags, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", id_, flags, qd, an, ns, ar)


def question(qname, qtype=1, qclass=1):
    return name(qname) + struct.pack("!HH", qtype, qclass)


def opt(payload=1232, version=0, do=False, options=b""):
    ttl = (version << 16) | (0x8000 if do else 0)
    return b"\x00" + struct.pack("!HHIH", 41, payload, ttl, len(options)) + options


def rr(owner_wire, rtype, rdata, ttl=30, rclass=1):
    return owner_wire + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


SEEDS = {
    "dig-a-cookie.bin": bytes.fromhex(
        "36ba01200001000000000001""0a6b756265726e657465730764656661756c740373766307636c7573746572056c6f63616c00"
        "00010001""00002904d000000000000c000a0008c10612653cf07bb9"),
    "dig-aaaa-dnssec.bin": bytes.fromhex(
        "530701200001000000000001074578616d706c6503434f4d00001c000100002904d000008000000c000a0008a5ac3e3ad1ed6650"),
    "dig-srv-noedns.bin": bytes.fromhex(
        "c7db01200001000000000000055f68747470045f746370066d792d737663026e730373766307636c7573746572056c6f63616c0000210001"),
    "dig-ptr-bufsize4096.bin": bytes.fromhex(
        "83b201200001000000000001023130013002393602313007696e2d61646472046172706100000c00010000291000000000000000"),
    "mixed-case-0x20.bin": header(7, 0x0100) + question("wEb.DeFault.SVC.cluster.LOCAL"),
    "notify-opcode.bin": header(8, 4 << 11) + question("cluster.local", 6),
    "notify-with-soa-and-edns.bin": header(26, 4 << 11 | 0x0400, an=1, ar=1) + question("cluster.local", 6) +
        rr(b"\xc0\x0c", 6, b"\x00\x00" + struct.pack("!IIIII", 7, 1, 1, 1, 1)) + opt(),
    "qr-set-response.bin": header(9, 0x8180, an=1) + question("a.example") + rr(b"\xc0\x0c", 1, b"\x0a\x00\x00\x01"),
    "short-header.bin": b"\x00\x0a\x01\x00\x00",
    "qdcount-zero.bin": header(11, 0x0100, qd=0) + opt(),
    "qdcount-two.bin": header(12, 0x0100, qd=2) + question("a.example") + question("b.example"),
    "pointer-loop.bin": header(13, 0x0100) + b"\xc0\x0e\xc0\x0c" + struct.pack("!HH", 1, 1),
    "pointer-self.bin": header(14, 0x0100) + b"\xc0\x0c" + struct.pack("!HH", 1, 1),
    "pointer-forward.bin": header(15, 0x0100) + b"\xc0\x0e" + name("a") + struct.pack("!HH", 1, 1),
    "pointer-past-end.bin": header(16, 0x0100) + b"\x01a\xc0\xff" + struct.pack("!HH", 1, 1),
    "name-255.bin": header(17, 0x0100) + name(("a" * 63 + ".") * 3 + "b" * 61) + struct.pack("!HH", 1, 1),
    "name-256.bin": header(18, 0x0100) + name(("a" * 63 + ".") * 3 + "b" * 62) + struct.pack("!HH", 1, 1),
    "edns-version-1.bin": header(19, 0x0100, ar=1) + question("a.example") + opt(version=1, do=True),
    "two-opt.bin": header(20, 0x0100, ar=2) + question("a.example") + opt() + opt(),
    "edns-small-payload-do.bin": header(21, 0x0100, ar=1) + question("a.example", 28) + opt(payload=100, do=True),
    "trailing-garbage.bin": header(22, 0x0100) + question("a.example") + b"\xde\xad",
    "tsig-shaped-additional.bin": header(23, 0x0000, ar=2) + question("a.example") + opt() +
        rr(name("key"), 250, b"\xab\xcd" * 8, ttl=0, rclass=255),
    "extended-label.bin": header(24, 0x0100) + b"\x41a\x00" + struct.pack("!HH", 1, 1),
    "full-response.bin": header(25, 0x8580, an=4, ns=1, ar=2) + question("svc.ns.svc.cluster.local", 255) +
        rr(b"\xc0\x0c", 1, b"\x0a\x60\x00\x0a") +
        rr(b"\xc0\x0c", 5, b"\x05alias\xc0\x10") +
        rr(b"\xc0\x0c", 33, struct.pack("!HHH", 0, 100, 443) + name("pod.svc.ns.svc.cluster.local")) +
        rr(b"\xc0\x0c", 16, b"\x05hello\x00") +
        rr(b"\xc0\x17", 6, b"\x02ns\xc0\x17\x0ahostmaster\xc0\x17" + struct.pack("!IIIII", 1, 2, 3, 4, 5)) +
        rr(b"\x02ns\xc0\x17", 28, bytes(16)) + opt(do=True, options=b"\x00\x0c\x00\x02\x00\x00"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for fname, data in SEEDS.items():
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
