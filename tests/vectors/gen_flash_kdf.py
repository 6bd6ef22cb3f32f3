#!/usr/bin/env python3
"""Independent RFC 7425 §4 test vectors for rtmfp-core's Flash crypto profile.

Written from the RFC text with the Python 3 standard library only (hmac,
hashlib, json); it does not import or read any of this project's code.

Writes tests/vectors/flash_kdf.json next to this file:
  - kdf:     ENCRYPT/DECRYPT keys, HMAC send/recv keys and nonces (§4.6.3-5)
             for both the initiator and the responder side;
  - dh:      MODP group 2 and 14 keys and shared secrets (§4.2, §4.6.2),
             with the primes computed from the RFC 2409/3526 formula;
  - layout:  a certificate, its fingerprint and canonical EPD (§4.3, §4.4),
             keying components (§4.5);
  - packets: encrypted packets (§4.7) with the default key and with session
             keys, using a small pure-Python AES-128 (checked against
             FIPS-197 C.1 and SP 800-38A F.2.1 at every run).

  python3 gen_flash_kdf.py           regenerate the JSON
  python3 gen_flash_kdf.py --check   exit 1 if the JSON on disk is stale
"""
import hashlib
import hmac
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "flash_kdf.json")


def h(b):
    return b.hex()


def hmac_sha256(key, msg):
    """HMAC-SHA256(K, M): HMAC of message M under key K (RFC 7425 §2)."""
    return hmac.new(key, msg, hashlib.sha256).digest()


def label_bytes(label, n):
    """n deterministic pseudorandom bytes from a label (SHA-256 counter)."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(label.encode() + i.to_bytes(4, "big")).digest()
        i += 1
    return out[:n]


# --- RFC 7016 §2.1.2-3: VLU and options -----------------------------------

def vlu(n):
    digits = [n & 0x7F]
    n >>= 7
    while n:
        digits.append(n & 0x7F)
        n >>= 7
    digits.reverse()
    return bytes([d | 0x80 for d in digits[:-1]] + [digits[-1]])


def option(typ, value=b""):
    payload = vlu(typ) + value
    return vlu(len(payload)) + payload


# --- RFC 7425 §4.6: key derivation ----------------------------------------

def derive(dh_secret, sknc, skfc):
    enc = hmac_sha256(dh_secret, hmac_sha256(skfc, sknc))  # §4.6.3
    dec = hmac_sha256(dh_secret, hmac_sha256(sknc, skfc))
    return {
        "encrypt_key": h(enc),
        "decrypt_key": h(dec),
        "hmac_send_key": h(hmac_sha256(dh_secret, enc)),  # §4.6.4
        "hmac_recv_key": h(hmac_sha256(dh_secret, dec)),
        "near_nonce": h(hmac_sha256(dh_secret, sknc)),  # §4.6.5
        "far_nonce": h(hmac_sha256(dh_secret, skfc)),
    }


def int_bytes(n):
    """Big-endian, no leading zero bytes (§4.6.2)."""
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


# --- MODP primes from the formula (RFC 2409 §6.2, RFC 3526) ---------------

def atan_inv(x, one):
    total = term = one // x
    x2 = x * x
    n, sign = 1, -1
    while term:
        term //= x2
        total += sign * (term // (2 * n + 1))
        sign, n = -sign, n + 1
    return total


def floor_pi_times_2_pow(bits):
    guard = 64
    one = 1 << (bits + guard)
    return (16 * atan_inv(5, one) - 4 * atan_inv(239, one)) >> guard  # Machin


def modp(n, k):
    return 2**n - 2**(n - 64) - 1 + 2**64 * (floor_pi_times_2_pow(n - 130) + k)


GROUPS = {2: modp(1024, 129093), 14: modp(2048, 124476)}


def public_ok(y, p):
    """RFC 7425 §4.6.2 acceptability."""
    ones = bin(y).count("1")
    return 2**24 <= y <= p - 2**24 and ones >= 16 and y.bit_length() - ones >= 16


# --- AES-128 (FIPS-197), encryption only ----------------------------------

def _xtime(a):
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a


def _gmul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a = _xtime(a)
        b >>= 1
    return r


def _sbox():
    inv = [0] * 256
    for a in range(1, 256):
        for b in range(1, 256):
            if _gmul(a, b) == 1:
                inv[a] = b
                break
    box = []
    for a in range(256):
        x = inv[a]
        s = x
        for i in range(1, 5):
            s ^= ((x << i) | (x >> (8 - i))) & 0xFF
        box.append(s ^ 0x63)
    return box


SBOX = _sbox()


def aes128_expand(key):
    w = [list(key[i:i + 4]) for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        t = list(w[i - 1])
        if i % 4 == 0:
            t = t[1:] + t[:1]
            t = [SBOX[b] for b in t]
            t[0] ^= rcon
            rcon = _xtime(rcon)
        w.append([a ^ b for a, b in zip(w[i - 4], t)])
    return [sum(w[r * 4:r * 4 + 4], []) for r in range(11)]


def aes128_encrypt_block(rk, block):
    s = [a ^ b for a, b in zip(block, rk[0])]
    for r in range(1, 11):
        s = [SBOX[b] for b in s]
        # ShiftRows on column-major state: byte (row i, col c) at 4c+i
        s = [s[(4 * (c + i) + i) % 16] for c in range(4) for i in range(4)]
        if r != 10:
            m = []
            for c in range(4):
                a = s[4 * c:4 * c + 4]
                m += [
                    _gmul(a[0], 2) ^ _gmul(a[1], 3) ^ a[2] ^ a[3],
                    a[0] ^ _gmul(a[1], 2) ^ _gmul(a[2], 3) ^ a[3],
                    a[0] ^ a[1] ^ _gmul(a[2], 2) ^ _gmul(a[3], 3),
                    _gmul(a[0], 3) ^ a[1] ^ a[2] ^ _gmul(a[3], 2),
                ]
            s = m
        s = [a ^ b for a, b in zip(s, rk[r])]
    return bytes(s)


def cbc_encrypt(key, iv, data):
    assert len(data) % 16 == 0
    rk = aes128_expand(key)
    out, prev = b"", iv
    for i in range(0, len(data), 16):
        prev = aes128_encrypt_block(rk, bytes(a ^ b for a, b in zip(data[i:i + 16], prev)))
        out += prev
    return out


def aes_self_test():
    fips = aes128_encrypt_block(
        aes128_expand(bytes(range(16))), bytes.fromhex("00112233445566778899aabbccddeeff"))
    assert fips.hex() == "69c4e0d86a7b0430d8cdb78070b4c55a", "FIPS-197 C.1"
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    iv = bytes(range(16))
    pt = bytes.fromhex(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
    ct = ("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
          "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7")
    assert cbc_encrypt(key, iv, pt).hex() == ct, "SP 800-38A F.2.1"
    try:  # optional cross-check; never changes the output
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        assert (e.update(pt) + e.finalize()).hex() == ct
    except ImportError:
        pass


# --- RFC 7425 §4.7: packet encryption -------------------------------------

def checksum(data):
    """§4.7.3.1: odd last byte is the LOW 8 bits of a word (upper 8 bits 0)."""
    s = 0
    for i in range(0, len(data) - 1, 2):
        s += (data[i] << 8) | data[i + 1]
    if len(data) % 2:
        s += data[-1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def encrypt_packet(aes_key, plain, sseq=None, hmac_key=None, hmac_len=0):
    head = b"" if sseq is None else vlu(sseq)
    body = plain
    if hmac_key is None:
        pad_total = len(head) + 2 + len(body)
        body += b"\xff" * ((-pad_total) % 16)
        body = checksum(body).to_bytes(2, "big") + body
    else:
        body += b"\xff" * ((-(len(head) + len(body))) % 16)
    blocks = cbc_encrypt(aes_key, bytes(16), head + body)
    if hmac_key is not None:
        blocks += hmac_sha256(hmac_key, blocks)[:hmac_len]
    return blocks


# --- the vectors ----------------------------------------------------------

def kdf_vectors():
    out = []
    cases = [
        ("short-secret", bytes.fromhex("0123456789"),
         bytes.fromhex("0d") + b"skic", bytes.fromhex("0e") + b"skrc"),
        ("empty-components", label_bytes("dh-a", 128), b"", b""),
        ("long", label_bytes("dh-b", 256), label_bytes("skic-b", 300), label_bytes("skrc-b", 70)),
    ]
    for name, secret, skic, skrc in cases:
        out.append({
            "name": name,
            "dh_secret": h(secret),
            "skic": h(skic),
            "skrc": h(skrc),
            # Initiator: SKNC = SKIC, SKFC = SKRC; responder the reverse.
            "initiator": derive(secret, skic, skrc),
            "responder": derive(secret, skrc, skic),
        })
    return out


def hmac_opt(flags, length):
    return option(0x1A, bytes([flags]) + vlu(length))


def dh_and_session_vectors():
    dh_out, sessions = [], []
    for gid, p in GROUPS.items():
        nbytes = (p.bit_length() + 7) // 8
        xa = int.from_bytes(label_bytes("xa-%d" % gid, 32), "big") | (1 << 255)
        xb = int.from_bytes(label_bytes("xb-%d" % gid, 32), "big") | (1 << 255)
        ya, yb = pow(2, xa, p), pow(2, xb, p)
        assert public_ok(ya, p) and public_ok(yb, p)
        secret = pow(yb, xa, p)
        assert secret == pow(ya, xb, p)
        pa, pb = ya.to_bytes(nbytes, "big"), yb.to_bytes(nbytes, "big")
        dh_out.append({
            "group": gid,
            "prime": h(int_bytes(p)),
            "private_a": h(int_bytes(xa)),
            "private_b": h(int_bytes(xb)),
            "public_a": h(pa),
            "public_b": h(pb),
            "secret": h(int_bytes(secret)),
        })
        # Ephemeral/ephemeral session (§4.6.1.1): SKIC and SKRC as our
        # encoder writes them (0x0d, 0x1a, 0x1e; SOR|REQ, 16-byte HMAC).
        skic = option(0x0D, vlu(gid) + pa) + hmac_opt(0x03, 16) + option(0x1E, b"\x03")
        skrc = option(0x0D, vlu(gid) + pb) + hmac_opt(0x03, 16) + option(0x1E, b"\x03")
        dsec = int_bytes(secret)
        ini, res = derive(dsec, skic, skrc), derive(dsec, skrc, skic)
        plain = b"\x89" + label_bytes("plain-%d" % gid, 40)
        pk = []
        for seq in (0, 1, 200):
            pk.append({
                "sseq": seq,
                "encrypted": h(encrypt_packet(
                    bytes.fromhex(ini["encrypt_key"])[:16], plain, sseq=seq,
                    hmac_key=bytes.fromhex(ini["hmac_send_key"]), hmac_len=16)),
            })
        sessions.append({
            "group": gid,
            "skic": h(skic),
            "skrc": h(skrc),
            "dh_secret": h(dsec),
            "initiator": ini,
            "responder": res,
            "plain": h(plain),
            "initiator_to_responder": pk,
        })
    return dh_out, sessions


def packet_vectors():
    key = b"Adobe Systems 02"  # §4.1
    out = []
    plains = [
        ("default-key-13", bytes.fromhex("0b") + label_bytes("p13", 12)),  # pads
        ("default-key-14", label_bytes("p14", 14)),  # 2 + 14 = 16, no pad
        ("default-key-40", label_bytes("p40", 40)),
    ]
    for name, plain in plains:
        out.append({"name": name, "key": h(key), "plain": h(plain), "sseq": None,
                    "hmac_key": None, "hmac_len": 0,
                    "encrypted": h(encrypt_packet(key, plain))})
    skey = label_bytes("aes", 16)
    hkey = label_bytes("hmac", 32)
    # Checksum + SSEQ: a 1-byte SSEQ leaves an odd number of checked bytes.
    for seq in (0, 127, 128, 2**40):
        plain = label_bytes("pseq%d" % seq, 21)
        out.append({"name": "checksum-sseq-%d" % seq, "key": h(skey), "plain": h(plain),
                    "sseq": seq, "hmac_key": None, "hmac_len": 0,
                    "encrypted": h(encrypt_packet(skey, plain, sseq=seq))})
    for hl in (4, 10, 32):
        plain = label_bytes("ph%d" % hl, 33)
        out.append({"name": "hmac-%d" % hl, "key": h(skey), "plain": h(plain),
                    "sseq": None, "hmac_key": h(hkey), "hmac_len": hl,
                    "encrypted": h(encrypt_packet(skey, plain, hmac_key=hkey, hmac_len=hl))})
    return out


def layout_vectors():
    # §4.3: hostname, accepts ancillary, extra randomness, groups 14 and 2,
    # then a marker and a non-canonical hostname and unknown option.
    canon = (option(0x00, b"example.com") + option(0x0A) + option(0x0E, label_bytes("er", 32))
             + option(0x15, vlu(14)) + option(0x15, vlu(2)))
    cert = canon + b"\x00" + option(0x00, b"ignored.example") + option(0x7F, b"junk")
    fp = hashlib.sha256(canon).digest()  # §4.3.2: canonical section only
    static_cert = option(0x1D, vlu(2) + label_bytes("static", 128))
    return {
        "certificate": h(cert),
        "canonical_len": len(canon),
        "fingerprint": h(fp),
        "canonical_epd": h(bytes([0x21, 0x0F]) + fp),  # §4.4.4
        "hostname": h(b"example.com"),
        "static_certificate": h(static_cert),
        "static_fingerprint": h(hashlib.sha256(static_cert).digest()),
        # §4.5.2.3-5: a static initiator's SKIC: group select 14, 16 bytes of
        # extra randomness, HMAC SND|SOR|REQ with length 32, SSEQ SND only.
        "static_skic": h(option(0x1D, vlu(14)) + option(0x0E, label_bytes("salt", 16))
                         + hmac_opt(0x07, 32) + option(0x1E, b"\x04")),
    }


def generate():
    aes_self_test()
    dh, sessions = dh_and_session_vectors()
    doc = {
        "generator": "tests/vectors/gen_flash_kdf.py (RFC 7425 §4, Python stdlib only)",
        "kdf": kdf_vectors(),
        "dh": dh,
        "sessions": sessions,
        "packets": packet_vectors(),
        "layout": layout_vectors(),
    }
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main():
    text = generate()
    if "--check" in sys.argv[1:]:
        try:
            with open(OUT, encoding="utf-8") as f:
                on_disk = f.read()
        except OSError:
            on_disk = None
        if on_disk != text:
            print("flash_kdf.json is stale: rerun tests/vectors/gen_flash_kdf.py", file=sys.stderr)
            return 1
        print("flash_kdf.json is up to date")
        return 0
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print("wrote", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
