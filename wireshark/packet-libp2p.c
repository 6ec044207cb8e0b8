/* packet-libp2p.c — a Wireshark/tshark plugin for libp2p over TCP:
 * multistream-select, Noise XX (decrypted with switchyard's key log), TLS (handed to Wireshark's TLS
 * dissector), yamux, mplex, and the streams inside (multistream, length-prefixed messages, identify,
 * ping, perf, /test/stream-proto/1.0.0).
 *
 * How it reads a connection (the same chain as switchyard's src/capture/decode-connection.ts):
 *
 *   TCP bytes ─► multistream (/noise | /tls/1.0.0) ─► Noise ─► multistream (muxer) or early muxer ─► yamux | mplex
 *                                                 └► TLS (Wireshark) ─► ALPN libp2p | muxer id ─┘       per stream ─►
 *                                                                                   multistream ─► messages / identify / ping / perf
 *
 * Every layer is an incremental reader of a two-way byte stream. On the first pass over the capture
 * the bytes of each TCP segment (or decrypted TLS record) go through the chain, and what each layer
 * recognised becomes a record attached to that frame; every pass (tshark -2, the GUI) draws a frame's
 * records as protocol items. Records of a layer whose bytes span several segments are attached to the
 * frame that completed them, as reassembly in Wireshark does.
 *
 * Specs: libp2p specs connections/README.md and multistream-select; noise/README.md ("Wire Format",
 * handshake payload, "Early multiplexer negotiation"); The Noise Protocol Framework rev 34 §5 (h, Split)
 * and §12.3 (ChaChaPoly nonce); yamux spec.md (hashicorp/yamux); mplex/README.md; identify/README.md;
 * ping/ping.md; perf/perf.md; peer-ids/peer-ids.md (peer id = multihash of the public key protobuf).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>

#include <glib.h>
#include <gcrypt.h>
#include <epan/packet.h>
#include <epan/conversation.h>
#include <epan/expert.h>
#include <epan/dissectors/packet-ber.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <epan/dissectors/packet-tcp.h>
#include <ws_version.h>
#include <sys/stat.h>
#include <wsutil/pint.h>
#include <epan/strutil.h>
#include <epan/tap.h>
#include <epan/stats_tree.h>
#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 2)
#include <wsutil/plugins.h>
/* 4.2 made heuristic dissectors return bool (4.0: gboolean) */
typedef bool heur_result_t;
#else
typedef gboolean heur_result_t;
#endif

#ifndef VERSION
#define VERSION "0.1.0"
#endif

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);
#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 2)
WS_DLL_PUBLIC uint32_t plugin_describe(void);
#endif

/* ───────────────────────────── limits ───────────────────────────── */

#define MS_PROTOCOL_ID "/multistream/1.0.0"
#define MS_MAX_MESSAGE 1024          /* multistream-select: one message (switchyard's MAX_MESSAGE_LENGTH) */
#define MS_MAX_LS 16383              /* an ls response */
#define NOISE_PROTOCOL_ID "/noise"
#define TLS_PROTOCOL_ID "/tls/1.0.0"
#define YAMUX_ID "/yamux/1.0.0"
#define MPLEX_ID "/mplex/6.7.0"
#define NOISE_PROTOCOL_NAME "Noise_XX_25519_ChaChaPoly_SHA256" /* exactly 32 bytes: h = name (Noise §5.2) */
#define DH_LEN 32
#define TAG_LEN 16
#define KEY_LEN 32
#define YAMUX_HEADER 12
#define MAX_FRAME (16u * 1024 * 1024) /* yamux/mplex frame bodies above this are reported and not followed */
#define MAX_LP_MESSAGE (4u * 1024 * 1024) /* a length-prefixed stream message */

/* ───────────────────────────── registration handles ───────────────────────────── */

static int proto_libp2p = -1;
static int proto_ms = -1;
static int proto_noise = -1;
static int proto_yamux = -1;
static int proto_mplex = -1;
static int proto_identify = -1;

static dissector_handle_t libp2p_handle;
static dissector_handle_t libp2p_tls_ms_handle;    /* ALPN "libp2p": multistream for the muxer */
static dissector_handle_t libp2p_tls_yamux_handle; /* ALPN "/yamux/1.0.0": early muxer */
static dissector_handle_t libp2p_tls_mplex_handle; /* ALPN "/mplex/6.7.0" */
static dissector_handle_t tls_handle;

static const char *pref_keylog = "";

/* libp2p: the connection and the streams */
static int hf_direction = -1;
static int hf_protocol = -1;
static int hf_stream = -1;
static int hf_stream_opener = -1;
static int hf_message = -1;
static int hf_message_length = -1;
static int hf_message_text = -1;
static int hf_data = -1;
static int hf_peer_id = -1;
static int hf_note = -1;
static int hf_ping_payload = -1;
static int hf_perf_size = -1;
/* multistream */
static int hf_ms_message = -1;
static int hf_ms_length = -1;
static int hf_ms_ls_protocol = -1;
/* noise */
static int hf_noise_length = -1;
static int hf_noise_hs_message = -1;
static int hf_noise_tokens = -1;
static int hf_noise_e = -1;
static int hf_noise_s = -1;
static int hf_noise_s_plain = -1;
static int hf_noise_payload_ct = -1;
static int hf_noise_payload_len = -1;
static int hf_noise_key_type = -1;
static int hf_noise_key_data = -1;
static int hf_noise_identity_key = -1;
static int hf_noise_signature = -1;
static int hf_noise_sig_valid = -1;
static int hf_tls_ext = -1;
static int hf_tls_ext_key = -1;
static int hf_tls_ext_key_type = -1;
static int hf_tls_ext_signature = -1;
static int hf_tls_ext_sig_valid = -1;
static int hf_noise_muxer = -1;
static int hf_noise_certhash = -1;
static int hf_noise_ciphertext = -1;
static int hf_noise_plaintext = -1;
static int hf_noise_decrypted = -1;
static int hf_noise_hash = -1;
static int hf_noise_early_muxer = -1;
/* yamux */
static int hf_yamux_version = -1;
static int hf_yamux_type = -1;
static int hf_yamux_flags = -1;
static int hf_yamux_flag_syn = -1;
static int hf_yamux_flag_ack = -1;
static int hf_yamux_flag_fin = -1;
static int hf_yamux_flag_rst = -1;
static int hf_yamux_stream_id = -1;
static int hf_yamux_length = -1;
static int hf_yamux_window_delta = -1;
static int hf_yamux_opaque = -1;
static int hf_yamux_goaway = -1;
static int hf_yamux_data = -1;
/* mplex */
static int hf_mplex_stream_id = -1;
static int hf_mplex_flag = -1;
static int hf_mplex_length = -1;
static int hf_mplex_data = -1;
static int hf_mplex_name = -1;
/* identify */
static int hf_id_protocol_version = -1;
static int hf_id_agent_version = -1;
static int hf_id_public_key = -1;
static int hf_id_listen_addr = -1;
static int hf_id_observed_addr = -1;
static int hf_id_protocols = -1;
static int hf_id_signed_record = -1;
static int hf_env_payload_type = -1;
static int hf_env_signature = -1;
static int hf_rec_peer_id = -1;
static int hf_rec_seq = -1;
static int hf_rec_addr = -1;

static gint ett_libp2p = -1;
static gint ett_ms = -1;
static gint ett_noise = -1;
static gint ett_noise_payload = -1;
static gint ett_yamux = -1;
static gint ett_yamux_flags = -1;
static gint ett_mplex = -1;
static gint ett_identify = -1;
static gint ett_tls_ext = -1;
/* The "libp2p" tap: one rec_t (R_PROTOCOL) per stream whose protocol was agreed. */
static int libp2p_tap = -1;

static expert_field ei_ms_malformed = EI_INIT;
static expert_field ei_noise_malformed = EI_INIT;
static expert_field ei_noise_decrypt = EI_INIT;
static expert_field ei_noise_nokeys = EI_INIT;
static expert_field ei_yamux_violation = EI_INIT;
static expert_field ei_mplex_violation = EI_INIT;
static expert_field ei_stream_malformed = EI_INIT;
static expert_field ei_gap = EI_INIT;
static expert_field ei_not_decoded = EI_INIT;

static const value_string key_type_vals[] = {
    { 0, "RSA" }, { 1, "Ed25519" }, { 2, "Secp256k1" }, { 3, "ECDSA" }, { 0, NULL }
};
static const value_string yamux_type_vals[] = {
    { 0, "Data" }, { 1, "WindowUpdate" }, { 2, "Ping" }, { 3, "GoAway" }, { 0, NULL }
};
static const value_string yamux_goaway_vals[] = {
    { 0, "normal" }, { 1, "protocol error" }, { 2, "internal error" }, { 0, NULL }
};
static const value_string mplex_flag_vals[] = {
    { 0, "NewStream" }, { 1, "MessageReceiver" }, { 2, "MessageInitiator" }, { 3, "CloseReceiver" },
    { 4, "CloseInitiator" }, { 5, "ResetReceiver" }, { 6, "ResetInitiator" }, { 0, NULL }
};
static const value_string dir_vals[] = { { 0, "client → server" }, { 1, "server → client" }, { 0, NULL } };
static const value_string opener_vals[] = { { 0, "client" }, { 1, "server" }, { 0, NULL } };

/* ───────────────────────────── byte helpers ───────────────────────────── */

typedef struct { guint8 *data; guint len; guint cap; } buf_t;

static void buf_push(buf_t *b, const guint8 *p, guint n)
{
    if (n == 0) return;
    if (b->len + n > b->cap) {
        guint cap = b->cap == 0 ? 256 : b->cap;
        while (cap < b->len + n) cap *= 2;
        b->data = (guint8 *)wmem_realloc(wmem_file_scope(), b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_consume(buf_t *b, guint n)
{
    if (n >= b->len) { b->len = 0; return; }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static guint8 *dup_bytes(const guint8 *p, guint n)
{
    guint8 *d = (guint8 *)wmem_alloc(wmem_file_scope(), n > 0 ? n : 1);
    if (n > 0) memcpy(d, p, n);
    return d;
}

/* Unsigned varint (multiformats unsigned-varint): bytes used, 0 when incomplete, -1 when longer than 9 bytes. */
static int uvarint(const guint8 *p, guint len, guint64 *out)
{
    guint64 v = 0;
    for (guint i = 0; i < len && i < 9; i++) {
        v |= (guint64)(p[i] & 0x7f) << (7 * i);
        if ((p[i] & 0x80) == 0) { *out = v; return (int)i + 1; }
    }
    return len >= 9 ? -1 : 0;
}

/* One protobuf field: returns bytes used, 0 at the end, -1 when malformed. */
typedef struct { guint32 field; guint wire; guint64 value; guint off; guint len; } pb_field_t;

static int pb_next(const guint8 *p, guint len, guint at, pb_field_t *f)
{
    if (at >= len) return 0;
    guint64 key;
    int n = uvarint(p + at, len - at, &key);
    if (n <= 0) return -1;
    f->field = (guint32)(key >> 3);
    f->wire = (guint)(key & 7);
    guint o = at + (guint)n;
    if (f->wire == 0) {
        int m = uvarint(p + o, len - o, &f->value);
        if (m <= 0) return -1;
        f->off = o; f->len = (guint)m;
        return (int)(o + (guint)m - at);
    }
    if (f->wire == 2) {
        guint64 l;
        int m = uvarint(p + o, len - o, &l);
        if (m <= 0 || l > len - o - (guint)m) return -1;
        f->off = o + (guint)m; f->len = (guint)l;
        return (int)(f->off + f->len - at);
    }
    if (f->wire == 5) { if (len - o < 4) return -1; f->off = o; f->len = 4; return (int)(o + 4 - at); }
    if (f->wire == 1) { if (len - o < 8) return -1; f->off = o; f->len = 8; return (int)(o + 8 - at); }
    return -1;
}

static gboolean printable(const guint8 *p, guint n)
{
    if (n == 0) return FALSE;
    for (guint i = 0; i < n; i++) {
        guint8 c = p[i];
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return FALSE;
        if (c == 0x7f) return FALSE;
    }
    return g_utf8_validate((const gchar *)p, n, NULL);
}

/* base58btc (the bitcoin alphabet) of `n` bytes. */
static char *base58(wmem_allocator_t *scope, const guint8 *p, guint n)
{
    static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    guint8 *digits = (guint8 *)wmem_alloc0(scope, n * 2 + 1);
    guint nd = 0;
    for (guint i = 0; i < n; i++) {
        guint carry = p[i];
        for (guint j = 0; j < nd; j++) {
            carry += (guint)digits[j] << 8;
            digits[j] = (guint8)(carry % 58);
            carry /= 58;
        }
        while (carry > 0) { digits[nd++] = (guint8)(carry % 58); carry /= 58; }
    }
    guint zeros = 0;
    while (zeros < n && p[zeros] == 0) zeros++;
    char *out = (char *)wmem_alloc(scope, zeros + nd + 1);
    guint k = 0;
    for (guint i = 0; i < zeros; i++) out[k++] = '1';
    for (guint i = 0; i < nd; i++) out[k++] = alphabet[digits[nd - 1 - i]];
    out[k] = 0;
    return out;
}

/* peer-ids/peer-ids.md: the multihash of the public key protobuf (identity up to 42 bytes, else
 * sha2-256), in base58btc. */
static char *peer_id_of(wmem_allocator_t *scope, const guint8 *key, guint n)
{
    guint8 mh[2 + 64];
    guint mlen;
    if (n <= 42) {
        mh[0] = 0x00; mh[1] = (guint8)n; memcpy(mh + 2, key, n); mlen = 2 + n;
    } else {
        mh[0] = 0x12; mh[1] = 0x20; gcry_md_hash_buffer(GCRY_MD_SHA256, mh + 2, key, n); mlen = 34;
    }
    return base58(scope, mh, mlen);
}

/* multiaddr bytes → text for the common protocols (multiaddr/protocols.csv); hex for the rest. */
static char *multiaddr_text(wmem_allocator_t *scope, const guint8 *p, guint n)
{
    wmem_strbuf_t *s = wmem_strbuf_new(scope, "");
    guint o = 0;
    while (o < n) {
        guint64 code;
        int c = uvarint(p + o, n - o, &code);
        if (c <= 0) goto raw;
        o += (guint)c;
        if (code == 4) { /* ip4 */
            if (n - o < 4) goto raw;
            wmem_strbuf_append_printf(s, "/ip4/%u.%u.%u.%u", p[o], p[o + 1], p[o + 2], p[o + 3]); o += 4;
        } else if (code == 41) { /* ip6 */
            if (n - o < 16) goto raw;
            wmem_strbuf_append(s, "/ip6/");
            for (guint i = 0; i < 16; i += 2) wmem_strbuf_append_printf(s, "%s%x", i ? ":" : "", (p[o + i] << 8) | p[o + i + 1]);
            o += 16;
        } else if (code == 6 || code == 273) { /* tcp, udp */
            if (n - o < 2) goto raw;
            wmem_strbuf_append_printf(s, "/%s/%u", code == 6 ? "tcp" : "udp", (p[o] << 8) | p[o + 1]); o += 2;
        } else if (code == 53 || code == 54 || code == 55 || code == 56 || code == 421) { /* dns, dns4, dns6, dnsaddr, p2p */
            guint64 l;
            int m = uvarint(p + o, n - o, &l);
            if (m <= 0 || l > n - o - (guint)m) goto raw;
            o += (guint)m;
            if (code == 421) {
                /* p2p carries a multihash already: its base58btc */
                wmem_strbuf_append_printf(s, "/p2p/%s", base58(scope, p + o, (guint)l));
            } else {
                const char *name = code == 53 ? "dns" : code == 54 ? "dns4" : code == 55 ? "dns6" : "dnsaddr";
                wmem_strbuf_append_printf(s, "/%s/%.*s", name, (int)l, (const char *)(p + o));
            }
            o += (guint)l;
        } else if (code == 460) { wmem_strbuf_append(s, "/quic");
        } else if (code == 461) { wmem_strbuf_append(s, "/quic-v1");
        } else if (code == 477) { wmem_strbuf_append(s, "/ws");
        } else if (code == 478) { wmem_strbuf_append(s, "/wss");
        } else if (code == 290) { wmem_strbuf_append(s, "/p2p-circuit");
        } else if (code == 280) { wmem_strbuf_append(s, "/webrtc-direct");
        } else if (code == 465) { wmem_strbuf_append(s, "/webtransport");
        } else goto raw;
    }
    return wmem_strbuf_finalize(s);
raw:
    {
        wmem_strbuf_t *h = wmem_strbuf_new(scope, "0x");
        for (guint i = 0; i < n; i++) wmem_strbuf_append_printf(h, "%02x", p[i]);
        return wmem_strbuf_finalize(h);
    }
}

/* ───────────────────────────── crypto (libgcrypt) ───────────────────────────── */

/* Noise §12.3 ChaChaPoly: 32 bits of zeros then the 64-bit little-endian nonce; AEAD_CHACHA20_POLY1305 (RFC 8439). */
static gboolean chachapoly_decrypt(const guint8 *key, guint64 nonce, const guint8 *ad, guint adlen,
                                   const guint8 *ct, guint ctlen, guint8 *out)
{
    if (ctlen < TAG_LEN) return FALSE;
    gcry_cipher_hd_t h;
    if (gcry_cipher_open(&h, GCRY_CIPHER_CHACHA20, GCRY_CIPHER_MODE_POLY1305, 0) != 0) return FALSE;
    guint8 iv[12] = { 0 };
    for (int i = 0; i < 8; i++) iv[4 + i] = (guint8)(nonce >> (8 * i));
    gboolean ok = gcry_cipher_setkey(h, key, KEY_LEN) == 0 && gcry_cipher_setiv(h, iv, 12) == 0 &&
        (adlen == 0 || gcry_cipher_authenticate(h, ad, adlen) == 0) &&
        gcry_cipher_decrypt(h, out, ctlen - TAG_LEN, ct, ctlen - TAG_LEN) == 0 &&
        gcry_cipher_checktag(h, ct + ctlen - TAG_LEN, TAG_LEN) == 0;
    gcry_cipher_close(h);
    return ok;
}

/* Noise §5.2 MixHash: h = SHA-256(h || data). */
static void mix_hash(guint8 *h, const guint8 *data, guint n)
{
    gcry_md_hd_t md;
    if (gcry_md_open(&md, GCRY_MD_SHA256, 0) != 0) return;
    gcry_md_write(md, h, 32);
    if (n > 0) gcry_md_write(md, data, n);
    memcpy(h, gcry_md_read(md, GCRY_MD_SHA256), 32);
    gcry_md_close(md);
}

/* DER (X.690 §8.1): one tag-length-value at p[0..n); the content's offset and length. Returns the
 * TLV's total size, 0 when malformed (definite lengths up to 3 bytes: keys and signatures only). */
static guint der_tlv(const guint8 *p, guint n, guint8 tag, guint *off, guint *len)
{
    if (n < 2 || p[0] != tag) return 0;
    guint l = p[1], o = 2;
    if (l & 0x80) {
        guint nb = l & 0x7f;
        if (nb == 0 || nb > 3 || n < 2 + nb) return 0;
        l = 0;
        for (guint i = 0; i < nb; i++) l = (l << 8) | p[2 + i];
        o = 2 + nb;
    }
    if (l > n - o) return 0;
    *off = o; *len = l;
    return o + l;
}

/* RFC 5280 §4.1: SubjectPublicKeyInfo ::= SEQUENCE { SEQUENCE { algorithm OID, parameters ANY }, BIT STRING }.
 * The algorithm OID's content, the parameters' TLV (a curve OID for EC keys) and the key bits. */
typedef struct { const guint8 *alg; guint alg_len; const guint8 *params; guint params_len; const guint8 *key; guint key_len; } spki_t;

static gboolean parse_spki(const guint8 *p, guint n, spki_t *s)
{
    guint o, l, o2, l2, o3, l3, used;
    if (der_tlv(p, n, 0x30, &o, &l) == 0) return FALSE;
    const guint8 *seq = p + o; guint seq_len = l;
    if ((used = der_tlv(seq, seq_len, 0x30, &o2, &l2)) == 0) return FALSE;
    const guint8 *ai = seq + o2;
    guint oid_used = der_tlv(ai, l2, 0x06, &o3, &l3);
    if (oid_used == 0) return FALSE;
    s->alg = ai + o3; s->alg_len = l3;
    s->params = ai + oid_used; s->params_len = l2 - oid_used;
    if (der_tlv(seq + used, seq_len - used, 0x03, &o3, &l3) == 0 || l3 < 1 || seq[used + o3] != 0) return FALSE;
    s->key = seq + used + o3 + 1; s->key_len = l3 - 1;
    return TRUE;
}

/* An ECDSA signature (RFC 3279 §2.2.3): SEQUENCE { INTEGER r, INTEGER s }. */
static gboolean parse_ecdsa_sig(const guint8 *p, guint n, const guint8 **r, guint *rl, const guint8 **s, guint *sl)
{
    guint o, l, o2, l2, used;
    if (der_tlv(p, n, 0x30, &o, &l) == 0) return FALSE;
    if ((used = der_tlv(p + o, l, 0x02, &o2, &l2)) == 0) return FALSE;
    *r = p + o + o2; *rl = l2;
    if (der_tlv(p + o + used, l - used, 0x02, &o2, &l2) == 0) return FALSE;
    *s = p + o + used + o2; *sl = l2;
    return TRUE;
}

static int pk_verify(gcry_sexp_t key, gcry_sexp_t data, gcry_sexp_t sig)
{
    int ok = (key && data && sig) ? (gcry_pk_verify(sig, data, key) == 0 ? 1 : 0) : -1;
    gcry_sexp_release(key); gcry_sexp_release(data); gcry_sexp_release(sig);
    return ok;
}

/* The ECDSA verification libp2p uses for secp256k1 and ECDSA keys: over SHA-256(msg), signature DER. */
static int verify_ecdsa(const char *curve, const guint8 *q, guint q_len, const guint8 *msg, guint msg_len, const guint8 *sig, guint sig_len)
{
    const guint8 *r, *s; guint rl, sl;
    if (!parse_ecdsa_sig(sig, sig_len, &r, &rl, &s, &sl)) return 0;
    guint8 h[32];
    gcry_md_hash_buffer(GCRY_MD_SHA256, h, msg, msg_len);
    gcry_sexp_t k = NULL, d = NULL, g = NULL;
    if (gcry_sexp_build(&k, NULL, "(public-key (ecc (curve %s) (q %b)))", curve, (int)q_len, q) != 0) k = NULL;
    if (gcry_sexp_build(&d, NULL, "(data (flags raw) (value %b))", 32, h) != 0) d = NULL;
    if (gcry_sexp_build(&g, NULL, "(sig-val (ecdsa (r %b) (s %b)))", (int)rl, r, (int)sl, s) != 0) g = NULL;
    return pk_verify(k, d, g);
}

/* libp2p specs peer-ids/peer-ids.md, key types and their signatures: 1 valid, 0 invalid, -1 not
 * verified (a key this code cannot read). `key_pb` is the PublicKey protobuf { Type = 1, Data = 2 }.
 *   Ed25519 (1)   Data: 32 bytes; RFC 8032 over msg
 *   Secp256k1 (2) Data: 33-byte compressed SEC1 point; ECDSA over SHA-256(msg), DER signature
 *   ECDSA (3)     Data: DER SubjectPublicKeyInfo (P-256/P-384/P-521); ECDSA over SHA-256(msg), DER
 *   RSA (0)       Data: DER SubjectPublicKeyInfo; RSASSA-PKCS1-v1_5 with SHA-256 */
static int verify_libp2p_sig(const guint8 *key_pb, guint key_len, const guint8 *msg, guint msg_len, const guint8 *sig, guint sig_len)
{
    guint64 type = 99; const guint8 *data = NULL; guint dlen = 0;
    pb_field_t f; guint at = 0; int k;
    while ((k = pb_next(key_pb, key_len, at, &f)) > 0) {
        if (f.field == 1 && f.wire == 0) type = f.value;
        else if (f.field == 2 && f.wire == 2) { data = key_pb + f.off; dlen = f.len; }
        at += (guint)k;
    }
    if (data == NULL) return -1;
    if (type == 1) {
        if (dlen != 32) return -1;
        if (sig_len != 64) return 0;
        gcry_sexp_t kk = NULL, d = NULL, g = NULL;
        if (gcry_sexp_build(&kk, NULL, "(public-key (ecc (curve Ed25519) (flags eddsa) (q %b)))", (int)dlen, data) != 0) kk = NULL;
        if (gcry_sexp_build(&d, NULL, "(data (flags eddsa) (hash-algo sha512) (value %b))", (int)msg_len, msg) != 0) d = NULL;
        if (gcry_sexp_build(&g, NULL, "(sig-val (eddsa (r %b) (s %b)))", 32, sig, 32, sig + 32) != 0) g = NULL;
        return pk_verify(kk, d, g);
    }
    if (type == 2) {
        if (dlen != 33 && dlen != 65) return -1;
        return verify_ecdsa("secp256k1", data, dlen, msg, msg_len, sig, sig_len);
    }
    spki_t s;
    if (!parse_spki(data, dlen, &s)) return -1;
    if (type == 3) {
        static const guint8 ec_public_key[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };            /* 1.2.840.10045.2.1 */
        static const guint8 p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };  /* 1.2.840.10045.3.1.7 */
        static const guint8 p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };                    /* 1.3.132.0.34 */
        static const guint8 p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };                    /* 1.3.132.0.35 */
        if (s.alg_len != sizeof ec_public_key || memcmp(s.alg, ec_public_key, sizeof ec_public_key) != 0) return -1;
        const char *curve =
            s.params_len == sizeof p256 && memcmp(s.params, p256, sizeof p256) == 0 ? "NIST P-256" :
            s.params_len == sizeof p384 && memcmp(s.params, p384, sizeof p384) == 0 ? "NIST P-384" :
            s.params_len == sizeof p521 && memcmp(s.params, p521, sizeof p521) == 0 ? "NIST P-521" : NULL;
        if (curve == NULL) return -1;
        return verify_ecdsa(curve, s.key, s.key_len, msg, msg_len, sig, sig_len);
    }
    if (type == 0) {
        static const guint8 rsa_encryption[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 }; /* 1.2.840.113549.1.1.1 */
        if (s.alg_len != sizeof rsa_encryption || memcmp(s.alg, rsa_encryption, sizeof rsa_encryption) != 0) return -1;
        /* RFC 8017 A.1.1: RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
        guint o, l, o2, l2, used;
        if (der_tlv(s.key, s.key_len, 0x30, &o, &l) == 0) return -1;
        if ((used = der_tlv(s.key + o, l, 0x02, &o2, &l2)) == 0) return -1;
        const guint8 *n = s.key + o + o2; guint nl = l2;
        if (der_tlv(s.key + o + used, l - used, 0x02, &o2, &l2) == 0) return -1;
        const guint8 *e = s.key + o + used + o2; guint el = l2;
        guint8 h[32];
        gcry_md_hash_buffer(GCRY_MD_SHA256, h, msg, msg_len);
        gcry_sexp_t kk = NULL, d = NULL, g = NULL;
        if (gcry_sexp_build(&kk, NULL, "(public-key (rsa (n %b) (e %b)))", (int)nl, n, (int)el, e) != 0) kk = NULL;
        if (gcry_sexp_build(&d, NULL, "(data (flags pkcs1) (hash sha256 %b))", 32, h) != 0) d = NULL;
        if (gcry_sexp_build(&g, NULL, "(sig-val (rsa (s %b)))", (int)sig_len, sig) != 0) g = NULL;
        return pk_verify(kk, d, g);
    }
    return -1;
}

/* noise/README.md "Static Key Authentication": the identity key signs "noise-libp2p-static-key:" ||
 * the Noise static key. 1 valid, 0 invalid, -1 not verified (a key this code cannot read). */
static int verify_static_key_sig(const guint8 *key_pb, guint key_len, const guint8 *sig, guint sig_len, const guint8 *static_key)
{
    static const char prefix[] = "noise-libp2p-static-key:";
    guint8 msg[sizeof prefix - 1 + DH_LEN];
    memcpy(msg, prefix, sizeof prefix - 1);
    memcpy(msg + sizeof prefix - 1, static_key, DH_LEN);
    return verify_libp2p_sig(key_pb, key_len, msg, sizeof msg, sig, sig_len);
}

/* ───────────────────────────── the key log ───────────────────────────── */

/* switchyard's key log (wireshark/README.md, src/trace/keylog.ts): lines
 *   SWITCHYARD_NOISE <local> <remote> <role> <k_i2r> <k_r2i> <h>
 *   SWITCHYARD_NOISE_HANDSHAKE <local> <remote> <role> <k_ee> <k_es> <k_se>
 * indexed by h (hex). Other lines (TLS's NSS lines in a shared file, comments) are skipped. */
typedef struct {
    guint8 k_i2r[KEY_LEN], k_r2i[KEY_LEN], h[32];
    gboolean has_hs;
    guint8 k_ee[KEY_LEN], k_es[KEY_LEN], k_se[KEY_LEN];
} noise_keys_t;

static GHashTable *keylog_by_h; /* hex h → noise_keys_t* */
static char *keylog_loaded_path;
static time_t keylog_loaded_mtime;
static off_t keylog_loaded_size;

static gboolean hex32(const char *s, guint8 *out)
{
    if (s == NULL || strlen(s) != 64) return FALSE;
    for (int i = 0; i < 32; i++) {
        int hi = g_ascii_xdigit_value(s[2 * i]), lo = g_ascii_xdigit_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return FALSE;
        out[i] = (guint8)(hi << 4 | lo);
    }
    return TRUE;
}

static void keylog_load(void)
{
    const char *path = pref_keylog;
    if (path == NULL || path[0] == 0) {
        if (keylog_by_h) g_hash_table_remove_all(keylog_by_h);
        g_free(keylog_loaded_path); keylog_loaded_path = NULL;
        return;
    }
    struct stat st;
    if (stat(path, &st) != 0) return;
    if (keylog_loaded_path && strcmp(keylog_loaded_path, path) == 0 && st.st_mtime == keylog_loaded_mtime && st.st_size == keylog_loaded_size) return;
    gchar *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL)) return;
    if (!keylog_by_h) keylog_by_h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_remove_all(keylog_by_h);
    noise_keys_t *last = NULL;
    gchar **lines = g_strsplit(text, "\n", -1);
    for (gchar **l = lines; *l; l++) {
        gchar *line = g_strstrip(*l);
        if (line[0] == 0 || line[0] == '#') continue;
        gchar **f = g_strsplit_set(line, " \t", -1);
        guint nf = 0;
        gchar *fields[8];
        for (gchar **p = f; *p && nf < 8; p++) if ((*p)[0] != 0) fields[nf++] = *p;
        if (nf == 7 && strcmp(fields[0], "SWITCHYARD_NOISE") == 0) {
            noise_keys_t *k = g_new0(noise_keys_t, 1);
            if (hex32(fields[4], k->k_i2r) && hex32(fields[5], k->k_r2i) && hex32(fields[6], k->h)) {
                gchar *key = g_ascii_strdown(fields[6], -1);
                noise_keys_t *known = (noise_keys_t *)g_hash_table_lookup(keylog_by_h, key);
                if (known) { g_free(key); g_free(k); last = known; }
                else { g_hash_table_insert(keylog_by_h, key, k); last = k; }
            } else { g_free(k); last = NULL; }
        } else if (nf == 7 && strcmp(fields[0], "SWITCHYARD_NOISE_HANDSHAKE") == 0) {
            /* the writer puts it right after its transport line */
            if (last && !last->has_hs && hex32(fields[4], last->k_ee) && hex32(fields[5], last->k_es) && hex32(fields[6], last->k_se)) last->has_hs = TRUE;
            last = NULL;
        }
        g_strfreev(f);
    }
    g_strfreev(lines);
    g_free(text);
    g_free(keylog_loaded_path);
    keylog_loaded_path = g_strdup(path);
    keylog_loaded_mtime = st.st_mtime;
    keylog_loaded_size = st.st_size;
}

static noise_keys_t *keylog_find(const guint8 *h)
{
    keylog_load();
    if (!keylog_by_h) return NULL;
    char hex[65];
    for (int i = 0; i < 32; i++) g_snprintf(hex + 2 * i, 3, "%02x", h[i]);
    return (noise_keys_t *)g_hash_table_lookup(keylog_by_h, hex);
}

/* ───────────────────────────── records ───────────────────────────── */

enum rec_kind {
    R_MS,          /* a multistream message (text) */
    R_MS_LS,       /* an ls response (bytes) */
    R_NOISE_HS,    /* handshake message n (bytes = message after its 2-byte length) */
    R_NOISE_DATA,  /* a transport message (bytes = ciphertext, plain = plaintext or NULL) */
    R_NOTE,        /* text for people (complete, no keys, not decoded) */
    R_ERROR,       /* text; layer says which expert */
    R_YAMUX,       /* bytes = 12-byte header + the body (Data) */
    R_MPLEX,       /* bytes = header varints + body */
    R_PROTOCOL,    /* a stream agreed on `text` */
    R_MESSAGE,     /* a length-prefixed stream message (bytes = body) */
    R_RAW,         /* raw stream data (ping, perf) */
    R_TLS          /* bytes handed to Wireshark's TLS dissector (every pass) */
};
enum layer { L_CONN, L_MS, L_NOISE, L_YAMUX, L_MPLEX, L_STREAM };

typedef struct rec {
    guint8 kind, layer, dir;
    gboolean in_stream;   /* stream/opener are set */
    guint64 stream;
    guint8 opener;        /* 0 client, 1 server */
    const char *text;
    const char *protocol; /* the stream's protocol for R_MESSAGE / R_RAW */
    guint8 *bytes; guint len;
    guint8 *plain; guint plen;
    guint hdrlen;         /* mplex header bytes */
    guint8 hs_number;
    /* Noise handshake, filled in when message 3 arrives and the keys are known */
    guint8 *s_plain; guint s_plen;
    guint8 *payload; guint payload_len;
    guint8 h[32]; gboolean has_h;
    const char *early_muxer;
    guint64 raw_offset;   /* R_RAW: offset of these bytes in their direction of the stream */
} rec_t;

/* The records of one (frame, layer number) — GPtrArray of rec_t*. */
typedef struct { GPtrArray *recs; } frame_recs_t;

/* ───────────────────────────── layers ───────────────────────────── */

struct conn;
typedef struct ctx {
    struct conn *c;
    GPtrArray *out;   /* records of the frame being read */
} ctx_t;

static rec_t *rec_new(ctx_t *x, guint8 kind, guint8 layer, guint8 dir)
{
    rec_t *r = wmem_new0(wmem_file_scope(), rec_t);
    r->kind = kind; r->layer = layer; r->dir = dir;
    g_ptr_array_add(x->out, r);
    return r;
}

static void rec_error(ctx_t *x, guint8 layer, guint8 dir, const char *text)
{
    rec_t *r = rec_new(x, R_ERROR, layer, dir);
    r->text = wmem_strdup(wmem_file_scope(), text);
}

/* multistream-select read from both sides (multistream-select spec): the dialer sends the header,
 * then one proposal (or ls) at a time; the listener the header, then one answer per proposal. After
 * a proposal the dialer's later bytes wait until the answer (a lazy dialer writes data right behind
 * its proposal). */
enum { MS_HEADER, MS_PROPOSE, MS_WAIT, MS_DONE, MS_FAILED };
typedef struct {
    buf_t b[2];
    guint8 dialer;
    int dstate, lstate;
    char *pending;     /* proposal awaiting its answer ("ls" for ls) */
    char *agreed;
    gboolean in_stream; guint64 stream; guint8 opener;
} ms_t;

static void ms_stamp(ms_t *m, rec_t *r) { r->in_stream = m->in_stream; r->stream = m->stream; r->opener = m->opener; }

/* The next message of `dir`: 1 read (*text set), 0 incomplete, -1 malformed. */
static int ms_read(ctx_t *x, ms_t *m, guint8 dir, char **text)
{
    buf_t *b = &m->b[dir];
    guint64 l;
    int n = uvarint(b->data, b->len, &l);
    if (n == 0) return 0;
    if (n < 0 || l > MS_MAX_MESSAGE || l == 0) {
        rec_t *r = rec_new(x, R_ERROR, L_MS, dir); ms_stamp(m, r);
        r->text = wmem_strdup_printf(wmem_file_scope(), "multistream message length %s (at most %d)", n < 0 ? "is not a varint" : "out of range", MS_MAX_MESSAGE);
        return -1;
    }
    if (b->len < (guint)n + l) return 0;
    const guint8 *body = b->data + n;
    if (body[l - 1] != '\n') {
        rec_t *r = rec_new(x, R_ERROR, L_MS, dir); ms_stamp(m, r);
        r->text = "multistream message does not end in a newline";
        return -1;
    }
    *text = wmem_strndup(wmem_file_scope(), (const char *)body, (size_t)l - 1);
    rec_t *r = rec_new(x, R_MS, L_MS, dir); ms_stamp(m, r);
    r->text = *text;
    r->bytes = dup_bytes(b->data, (guint)(n + l)); r->len = (guint)(n + l);
    buf_consume(b, (guint)(n + l));
    return 1;
}

/* Feed bytes; returns TRUE once a protocol is agreed (m->agreed; what is left in m->b[] follows it). */
static gboolean ms_push(ctx_t *x, ms_t *m, guint8 dir, const guint8 *p, guint n)
{
    if (m->dstate == MS_FAILED) return FALSE;
    buf_push(&m->b[dir], p, n);
    guint8 d = m->dialer, l = (guint8)(1 - m->dialer);
    for (;;) {
        char *t = NULL;
        int rc;
        gboolean progress = FALSE;
        if (m->dstate == MS_HEADER || m->dstate == MS_PROPOSE) {
            rc = ms_read(x, m, d, &t);
            if (rc < 0) { m->dstate = MS_FAILED; return FALSE; }
            if (rc > 0) {
                if (m->dstate == MS_HEADER) {
                    if (strcmp(t, MS_PROTOCOL_ID) != 0) { rec_t *r = rec_new(x, R_ERROR, L_MS, d); ms_stamp(m, r); r->text = "expected the multistream header /multistream/1.0.0"; m->dstate = MS_FAILED; return FALSE; }
                    m->dstate = MS_PROPOSE;
                } else {
                    m->pending = t;
                    m->dstate = MS_WAIT;
                }
                progress = TRUE;
            }
        }
        if (m->lstate == MS_HEADER) {
            rc = ms_read(x, m, l, &t);
            if (rc < 0) { m->dstate = MS_FAILED; return FALSE; }
            if (rc > 0) {
                if (strcmp(t, MS_PROTOCOL_ID) != 0) { rec_t *r = rec_new(x, R_ERROR, L_MS, l); ms_stamp(m, r); r->text = "expected the multistream header /multistream/1.0.0"; m->dstate = MS_FAILED; return FALSE; }
                m->lstate = MS_PROPOSE;
                continue;
            }
            if (!progress) return FALSE;
            continue;
        }
        if (m->pending == NULL) { if (progress) continue; return FALSE; }
        if (strcmp(m->pending, "ls") == 0) {
            buf_t *b = &m->b[l];
            guint64 len;
            int k = uvarint(b->data, b->len, &len);
            if (k < 0 || (k > 0 && len > MS_MAX_LS)) { rec_error(x, L_MS, l, "ls response too long"); m->dstate = MS_FAILED; return FALSE; }
            if (k == 0 || b->len < (guint)k + len) return FALSE;
            if (len == 3 && memcmp(b->data + k, "na\n", 3) == 0) {
                rec_t *r = rec_new(x, R_MS, L_MS, l); ms_stamp(m, r); r->text = "na";
                r->bytes = dup_bytes(b->data, (guint)(k + len)); r->len = (guint)(k + len);
            } else {
                rec_t *r = rec_new(x, R_MS_LS, L_MS, l); ms_stamp(m, r);
                r->bytes = dup_bytes(b->data + k, (guint)len); r->len = (guint)len;
            }
            buf_consume(b, (guint)(k + len));
            m->pending = NULL;
            m->dstate = MS_PROPOSE;
            continue;
        }
        rc = ms_read(x, m, l, &t);
        if (rc < 0) { m->dstate = MS_FAILED; return FALSE; }
        if (rc == 0) return FALSE;
        if (strcmp(t, m->pending) == 0) {
            m->agreed = m->pending;
            m->pending = NULL;
            m->dstate = m->lstate = MS_DONE;
            return TRUE;
        }
        if (strcmp(t, "na") != 0) {
            rec_t *r = rec_new(x, R_ERROR, L_MS, l); ms_stamp(m, r);
            r->text = wmem_strdup_printf(wmem_file_scope(), "answer to %s expected the same id or na, got %s", m->pending, t);
            m->dstate = MS_FAILED;
            return FALSE;
        }
        m->pending = NULL;
        m->dstate = MS_PROPOSE;
    }
}

/* A stream inside the muxer: multistream, then messages (or raw bytes for ping/perf). */
typedef struct {
    ms_t ms;
    const char *protocol;
    gboolean raw;
    buf_t msg[2];
    gboolean failed[2];
    guint64 raw_off[2];
} stream_t;

static gboolean raw_protocol(const char *p)
{
    return strcmp(p, "/ipfs/ping/1.0.0") == 0 || strcmp(p, "/perf/1.0.0") == 0;
}

static void stream_body(ctx_t *x, stream_t *s, guint8 dir, const guint8 *p, guint n)
{
    if (n == 0 || s->failed[dir]) return;
    if (s->raw) {
        rec_t *r = rec_new(x, R_RAW, L_STREAM, dir); ms_stamp(&s->ms, r);
        r->protocol = s->protocol;
        r->bytes = dup_bytes(p, n); r->len = n;
        r->raw_offset = s->raw_off[dir];
        s->raw_off[dir] += n;
        return;
    }
    buf_t *b = &s->msg[dir];
    buf_push(b, p, n);
    for (;;) {
        guint64 l;
        int k = uvarint(b->data, b->len, &l);
        if (k == 0) return;
        if (k < 0 || l > MAX_LP_MESSAGE) {
            rec_t *r = rec_new(x, R_ERROR, L_STREAM, dir); ms_stamp(&s->ms, r);
            r->text = "bytes are not length-prefixed messages; showing raw data";
            s->failed[dir] = TRUE;
            return;
        }
        if (b->len < (guint)k + l) return;
        rec_t *r = rec_new(x, R_MESSAGE, L_STREAM, dir); ms_stamp(&s->ms, r);
        r->protocol = s->protocol;
        r->bytes = dup_bytes(b->data + k, (guint)l); r->len = (guint)l;
        buf_consume(b, (guint)(k + l));
    }
}

static void stream_push(ctx_t *x, stream_t *s, guint8 dir, const guint8 *p, guint n)
{
    if (s->protocol) { stream_body(x, s, dir, p, n); return; }
    if (!ms_push(x, &s->ms, dir, p, n)) return;
    s->protocol = s->ms.agreed;
    s->raw = raw_protocol(s->protocol);
    rec_t *r = rec_new(x, R_PROTOCOL, L_STREAM, dir); ms_stamp(&s->ms, r);
    r->text = s->protocol;
    for (guint8 d = 0; d < 2; d++) {
        buf_t *b = &s->ms.b[d];
        if (b->len > 0) { guint8 *left = dup_bytes(b->data, b->len); guint ln = b->len; b->len = 0; stream_body(x, s, d, left, ln); }
    }
}

/* yamux (yamux spec.md): 12-byte header; Data frames carry `length` bytes. Bodies are gathered
 * whole (up to MAX_FRAME) so each frame is one record. */
typedef struct { buf_t b; gboolean failed; } yamux_dir_t;
typedef struct { buf_t b; gboolean failed; } mplex_dir_t;

typedef struct conn {
    guint8 client_known;
    address client_addr; guint32 client_port;
    gboolean seq_known[2]; guint32 next_seq[2]; gboolean gap[2];
    ms_t ms;                 /* connection-level negotiation */
    int security;            /* 0 negotiating, 1 noise, 2 tls, 3 other */
    /* Noise */
    buf_t nb[2];
    int hs_count[2];
    gboolean hs_done, n_failed[2];
    guint8 *hs_msg[3]; guint hs_len[3];
    rec_t *hs_rec[3];
    noise_keys_t keys; gboolean have_keys;
    guint64 nonce[2];
    /* after security */
    gboolean post_started;
    int muxer;               /* 0 negotiating with multistream, 1 yamux, 2 mplex, 3 not decoded */
    ms_t mux_ms;
    yamux_dir_t ydir[2];
    mplex_dir_t mdir[2];
    wmem_map_t *streams;     /* guint64 (opener << 63 | id) → stream_t* */
} conn_t;

static stream_t *get_stream(conn_t *c, guint64 id, guint8 opener)
{
    guint64 *key = wmem_new(wmem_file_scope(), guint64);
    *key = ((guint64)opener << 63) | id;
    stream_t *s = (stream_t *)wmem_map_lookup(c->streams, key);
    if (s) return s;
    s = wmem_new0(wmem_file_scope(), stream_t);
    s->ms.dialer = opener;  /* the stream's opener dials its multistream */
    s->ms.in_stream = TRUE; s->ms.stream = id; s->ms.opener = opener;
    wmem_map_insert(c->streams, key, s);
    return s;
}

static void yamux_push(ctx_t *x, conn_t *c, guint8 dir, const guint8 *p, guint n)
{
    yamux_dir_t *y = &c->ydir[dir];
    if (y->failed) return;
    buf_push(&y->b, p, n);
    while (y->b.len >= YAMUX_HEADER) {
        const guint8 *h = y->b.data;
        guint8 version = h[0], type = h[1];
        guint32 sid = pntoh32(h + 4), length = pntoh32(h + 8);
        if (version != 0 || type > 3) {
            rec_t *r = rec_new(x, R_ERROR, L_YAMUX, dir);
            r->text = version != 0 ? wmem_strdup_printf(wmem_file_scope(), "yamux version %u (only 0 exists): the rest of this direction is not read", version)
                                   : wmem_strdup_printf(wmem_file_scope(), "unknown yamux frame type %u: the rest of this direction is not read", type);
            r->bytes = dup_bytes(h, YAMUX_HEADER); r->len = YAMUX_HEADER;
            y->failed = TRUE;
            return;
        }
        guint body = type == 0 ? length : 0;
        if (body > MAX_FRAME) {
            rec_t *r = rec_new(x, R_ERROR, L_YAMUX, dir);
            r->text = wmem_strdup_printf(wmem_file_scope(), "yamux Data frame of %u bytes (this dissector follows up to %u)", length, MAX_FRAME);
            y->failed = TRUE;
            return;
        }
        if (y->b.len < YAMUX_HEADER + body) return;
        rec_t *r = rec_new(x, R_YAMUX, L_YAMUX, dir);
        r->bytes = dup_bytes(h, YAMUX_HEADER + body); r->len = YAMUX_HEADER + body;
        r->in_stream = type <= 1 && sid != 0;
        r->stream = sid;
        r->opener = (sid & 1) ? 0 : 1; /* yamux spec "Stream ID": the client opens odd ids */
        if (type == 0 && sid == 0) {
            rec_error(x, L_YAMUX, dir, "yamux Data frame on stream 0");
        }
        if ((type == 2 || type == 3) && sid != 0) {
            rec_error(x, L_YAMUX, dir, "yamux Ping/GoAway frame with a stream id other than 0");
        }
        guint8 *payload = NULL;
        if (body > 0 && sid != 0) payload = dup_bytes(h + YAMUX_HEADER, body);
        buf_consume(&y->b, YAMUX_HEADER + body);
        if (payload) stream_push(x, get_stream(c, sid, (sid & 1) ? 0 : 1), dir, payload, body);
    }
}

/* mplex (mplex/README.md): uvarint (id << 3 | flag), uvarint length, body. Even flags come from the
 * stream's opener. */
static void mplex_push(ctx_t *x, conn_t *c, guint8 dir, const guint8 *p, guint n)
{
    mplex_dir_t *m = &c->mdir[dir];
    if (m->failed) return;
    buf_push(&m->b, p, n);
    for (;;) {
        guint64 hdr, len;
        int a = uvarint(m->b.data, m->b.len, &hdr);
        if (a == 0) return;
        int b = a > 0 ? uvarint(m->b.data + a, m->b.len - (guint)a, &len) : -1;
        if (b == 0) return;
        if (a < 0 || b < 0) { rec_error(x, L_MPLEX, dir, "mplex header is not a varint: the rest of this direction is not read"); m->failed = TRUE; return; }
        guint flag = (guint)(hdr & 7);
        guint64 id = hdr >> 3;
        if (flag > 6) { rec_error(x, L_MPLEX, dir, wmem_strdup_printf(wmem_file_scope(), "unknown mplex flag %u: the rest of this direction is not read", flag)); m->failed = TRUE; return; }
        if (len > MAX_FRAME) { rec_error(x, L_MPLEX, dir, "mplex frame larger than this dissector follows"); m->failed = TRUE; return; }
        guint hl = (guint)(a + b);
        if (m->b.len < hl + len) return;
        rec_t *r = rec_new(x, R_MPLEX, L_MPLEX, dir);
        r->bytes = dup_bytes(m->b.data, hl + (guint)len); r->len = hl + (guint)len; r->hdrlen = hl;
        /* even flag: sent by the stream's opener */
        guint8 opener = (flag % 2 == 0) ? dir : (guint8)(1 - dir);
        r->in_stream = TRUE; r->stream = id; r->opener = opener;
        if (len > 1024 * 1024) rec_error(x, L_MPLEX, dir, "mplex frame body over 1 MiB (mplex/README.md limit)");
        gboolean data = flag == 1 || flag == 2;
        guint8 *payload = data && len > 0 ? dup_bytes(m->b.data + hl, (guint)len) : NULL;
        buf_consume(&m->b, hl + (guint)len);
        if (payload) stream_push(x, get_stream(c, id, opener), dir, payload, (guint)len);
    }
}

static void post_start(ctx_t *x, conn_t *c, int muxer)
{
    c->post_started = TRUE;
    c->muxer = muxer;
    c->mux_ms.dialer = 0;
    if (muxer == 0) return;
    (void)x;
}

static void muxer_by_id(ctx_t *x, conn_t *c, const char *id, guint8 dir)
{
    if (strcmp(id, YAMUX_ID) == 0) c->muxer = 1;
    else if (strcmp(id, MPLEX_ID) == 0) c->muxer = 2;
    else {
        c->muxer = 3;
        rec_t *r = rec_new(x, R_NOTE, L_CONN, dir);
        r->text = wmem_strdup_printf(wmem_file_scope(), "muxer %s is not decoded", id);
    }
}

/* The bytes of the secure channel (Noise plaintext or TLS application data). */
static void post_push(ctx_t *x, conn_t *c, guint8 dir, const guint8 *p, guint n)
{
    if (!c->post_started) post_start(x, c, 0);
    if (c->muxer == 0) {
        if (!ms_push(x, &c->mux_ms, dir, p, n)) return;
        muxer_by_id(x, c, c->mux_ms.agreed, dir);
        for (guint8 d = 0; d < 2; d++) {
            buf_t *b = &c->mux_ms.b[d];
            if (b->len > 0) { guint8 *left = dup_bytes(b->data, b->len); guint ln = b->len; b->len = 0; post_push(x, c, d, left, ln); }
        }
        return;
    }
    if (c->muxer == 1) yamux_push(x, c, dir, p, n);
    else if (c->muxer == 2) mplex_push(x, c, dir, p, n);
}

/* Noise XX message patterns (Noise §7.5). */
static const char *const xx_tokens[3] = { "e", "e, ee, s, es", "s, se" };

/* The streams muxers listed in a handshake payload's extensions (noise/README.md: NoiseExtensions field 2). */
static GPtrArray *payload_muxers(const guint8 *p, guint n)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    pb_field_t f; guint at = 0; int k;
    while ((k = pb_next(p, n, at, &f)) > 0) {
        if (f.field == 4 && f.wire == 2) {
            pb_field_t g; guint at2 = 0; int k2;
            while ((k2 = pb_next(p + f.off, f.len, at2, &g)) > 0) {
                if (g.field == 2 && g.wire == 2) g_ptr_array_add(out, g_strndup((const char *)(p + f.off + g.off), g.len));
                at2 += (guint)k2;
            }
        }
        at += (guint)k;
    }
    return out;
}

/* Noise §5.2–5.3: h over the public transcript (ciphertexts hashed as they are). */
static gboolean transcript_hash(conn_t *c, guint8 *h)
{
    memcpy(h, NOISE_PROTOCOL_NAME, 32);
    mix_hash(h, NULL, 0); /* empty prologue */
    gboolean has_key = FALSE;
    for (int i = 0; i < 3; i++) {
        const guint8 *m = c->hs_msg[i]; guint len = c->hs_len[i], o = 0;
        guint need = i == 0 ? DH_LEN : i == 1 ? DH_LEN + DH_LEN + TAG_LEN : DH_LEN + TAG_LEN;
        if (len < need) return FALSE;
        if (i == 0) { mix_hash(h, m, DH_LEN); o = DH_LEN; }
        else if (i == 1) { mix_hash(h, m, DH_LEN); has_key = TRUE; mix_hash(h, m + DH_LEN, DH_LEN + TAG_LEN); o = 2 * DH_LEN + TAG_LEN; }
        else { mix_hash(h, m, DH_LEN + TAG_LEN); o = DH_LEN + TAG_LEN; }
        (void)has_key;
        mix_hash(h, m + o, len - o);
    }
    return TRUE;
}

/* Replay with the logged handshake keys (each stands for the MixKey of its DH token): decrypt both
 * static keys and payloads; FALSE when a tag fails or h does not come out as logged. */
static gboolean replay(conn_t *c, const noise_keys_t *k)
{
    guint8 h[32];
    memcpy(h, NOISE_PROTOCOL_NAME, 32);
    mix_hash(h, NULL, 0);
    /* message 1: e, payload in clear */
    mix_hash(h, c->hs_msg[0], DH_LEN);
    mix_hash(h, c->hs_msg[0] + DH_LEN, c->hs_len[0] - DH_LEN);
    /* message 2: e, ee, s, es */
    const guint8 *m = c->hs_msg[1]; guint len = c->hs_len[1];
    mix_hash(h, m, DH_LEN);
    guint8 s2[DH_LEN];
    if (!chachapoly_decrypt(k->k_ee, 0, h, 32, m + DH_LEN, DH_LEN + TAG_LEN, s2)) return FALSE;
    mix_hash(h, m + DH_LEN, DH_LEN + TAG_LEN);
    guint po = 2 * DH_LEN + TAG_LEN, pl = len - po;
    if (pl < TAG_LEN) return FALSE;
    guint8 *p2 = (guint8 *)wmem_alloc(wmem_file_scope(), pl);
    if (!chachapoly_decrypt(k->k_es, 0, h, 32, m + po, pl, p2)) return FALSE;
    mix_hash(h, m + po, pl);
    /* message 3: s, se */
    m = c->hs_msg[2]; len = c->hs_len[2];
    guint8 s3[DH_LEN];
    if (!chachapoly_decrypt(k->k_es, 1, h, 32, m, DH_LEN + TAG_LEN, s3)) return FALSE;
    mix_hash(h, m, DH_LEN + TAG_LEN);
    po = DH_LEN + TAG_LEN; guint pl3 = len - po;
    if (pl3 < TAG_LEN) return FALSE;
    guint8 *p3 = (guint8 *)wmem_alloc(wmem_file_scope(), pl3);
    if (!chachapoly_decrypt(k->k_se, 0, h, 32, m + po, pl3, p3)) return FALSE;
    mix_hash(h, m + po, pl3);
    if (memcmp(h, k->h, 32) != 0) return FALSE;
    rec_t *r2 = c->hs_rec[1], *r3 = c->hs_rec[2];
    r2->s_plain = dup_bytes(s2, DH_LEN); r2->s_plen = DH_LEN;
    r2->payload = p2; r2->payload_len = pl - TAG_LEN;
    r3->s_plain = dup_bytes(s3, DH_LEN); r3->s_plen = DH_LEN;
    r3->payload = p3; r3->payload_len = pl3 - TAG_LEN;
    return TRUE;
}

static const char *select_muxer(conn_t *c)
{
    /* noise/README.md early negotiation: the first of the initiator's muxers the responder lists too */
    rec_t *r2 = c->hs_rec[1], *r3 = c->hs_rec[2];
    if (!r2->payload || !r3->payload) return NULL;
    GPtrArray *resp = payload_muxers(r2->payload, r2->payload_len);
    GPtrArray *init = payload_muxers(r3->payload, r3->payload_len);
    const char *chosen = NULL;
    for (guint i = 0; i < init->len && !chosen; i++)
        for (guint j = 0; j < resp->len; j++)
            if (strcmp((const char *)g_ptr_array_index(init, i), (const char *)g_ptr_array_index(resp, j)) == 0) {
                chosen = wmem_strdup(wmem_file_scope(), (const char *)g_ptr_array_index(init, i));
                break;
            }
    g_ptr_array_free(resp, TRUE);
    g_ptr_array_free(init, TRUE);
    return chosen;
}

static void noise_complete(ctx_t *x, conn_t *c)
{
    c->hs_done = TRUE;
    guint8 h[32];
    if (!transcript_hash(c, h)) {
        rec_error(x, L_NOISE, 0, "Noise handshake messages too short for XX");
        c->n_failed[0] = c->n_failed[1] = TRUE;
        return;
    }
    rec_t *r3 = c->hs_rec[2];
    memcpy(r3->h, h, 32); r3->has_h = TRUE;
    noise_keys_t *k = keylog_find(h);
    if (!k) {
        rec_t *r = rec_new(x, R_NOTE, L_NOISE, 0);
        r->text = "no keys for this connection in the key log: showing the handshake only";
        return;
    }
    c->keys = *k;
    c->have_keys = TRUE;
    const char *early = NULL;
    if (k->has_hs) {
        if (!replay(c, k)) rec_error(x, L_NOISE, 0, "the handshake keys of the key log do not reproduce this handshake's hash");
        else early = select_muxer(c);
    }
    rec_t *r = rec_new(x, R_NOTE, L_NOISE, 0);
    r->early_muxer = early;
    r->text = early ? wmem_strdup_printf(wmem_file_scope(), "Noise handshake complete, muxer %s (early negotiation)", early)
                    : "Noise handshake complete";
    post_start(x, c, 0);
    if (early) muxer_by_id(x, c, early, 0);
}

static void noise_transport(ctx_t *x, conn_t *c, guint8 dir, const guint8 *m, guint len)
{
    rec_t *r = rec_new(x, R_NOISE_DATA, L_NOISE, dir);
    r->bytes = dup_bytes(m, len); r->len = len;
    if (!c->have_keys) return;
    if (len < TAG_LEN) { rec_error(x, L_NOISE, dir, "Noise transport message shorter than its tag"); c->n_failed[dir] = TRUE; return; }
    guint8 *plain = (guint8 *)wmem_alloc(wmem_file_scope(), len);
    /* k1 encrypts initiator (client) → responder, k2 the other way; nonces from 0 (Noise §5.2 Split) */
    const guint8 *key = dir == 0 ? c->keys.k_i2r : c->keys.k_r2i;
    if (!chachapoly_decrypt(key, c->nonce[dir], NULL, 0, m, len, plain)) {
        r->plain = NULL;
        rec_error(x, L_NOISE, dir, wmem_strdup_printf(wmem_file_scope(), "Noise transport message %" PRIu64 " does not decrypt (wrong key, or bytes missing)", c->nonce[dir]));
        c->n_failed[dir] = TRUE;
        return;
    }
    c->nonce[dir]++;
    r->plain = plain; r->plen = len - TAG_LEN;
    if (r->plen > 0) post_push(x, c, dir, plain, r->plen);
}

static void noise_pump(ctx_t *x, conn_t *c, guint8 dir)
{
    buf_t *b = &c->nb[dir];
    for (;;) {
        if (c->n_failed[dir]) return;
        if (!c->hs_done && c->hs_count[dir] >= (dir == 0 ? 2 : 1)) return;
        if (b->len < 2) return;
        guint len = pntoh16(b->data);
        if (b->len < 2 + len) return;
        guint8 *m = dup_bytes(b->data + 2, len);
        buf_consume(b, 2 + len);
        if (c->hs_done) { noise_transport(x, c, dir, m, len); continue; }
        int number = dir == 0 ? (c->hs_count[0] == 0 ? 1 : 3) : 2;
        c->hs_count[dir]++;
        c->hs_msg[number - 1] = m; c->hs_len[number - 1] = len;
        rec_t *r = rec_new(x, R_NOISE_HS, L_NOISE, dir);
        r->hs_number = (guint8)number;
        r->bytes = m; r->len = len;
        c->hs_rec[number - 1] = r;
        if (c->hs_msg[0] && c->hs_msg[1] && c->hs_msg[2]) {
            noise_complete(x, c);
            noise_pump(x, c, (guint8)(1 - dir));
        }
    }
}

static void noise_push(ctx_t *x, conn_t *c, guint8 dir, const guint8 *p, guint n)
{
    if (c->n_failed[dir]) return;
    buf_push(&c->nb[dir], p, n);
    noise_pump(x, c, dir);
}

/* ───────────────────────────── per-connection state ───────────────────────────── */

static conn_t *get_conn(packet_info *pinfo, gboolean create)
{
    conversation_t *conv = find_or_create_conversation(pinfo);
    conn_t *c = (conn_t *)conversation_get_proto_data(conv, proto_libp2p);
    if (c || !create) return c;
    c = wmem_new0(wmem_file_scope(), conn_t);
    c->streams = wmem_map_new(wmem_file_scope(), g_int64_hash, g_int64_equal);
    c->ms.dialer = 0;
    /* The TCP client (the SYN's sender) is the dialer; without the SYN, the first to speak. */
    struct tcp_analysis *tcpd = get_tcp_conversation_data(conv, pinfo);
    if (tcpd && tcpd->server_port != 0) {
        if (pinfo->srcport == tcpd->server_port) { copy_address_wmem(wmem_file_scope(), &c->client_addr, &pinfo->dst); c->client_port = pinfo->destport; }
        else { copy_address_wmem(wmem_file_scope(), &c->client_addr, &pinfo->src); c->client_port = pinfo->srcport; }
    } else {
        copy_address_wmem(wmem_file_scope(), &c->client_addr, &pinfo->src); c->client_port = pinfo->srcport;
    }
    c->client_known = 1;
    conversation_add_proto_data(conv, proto_libp2p, c);
    return c;
}

static guint8 dir_of(conn_t *c, packet_info *pinfo)
{
    return (pinfo->srcport == c->client_port && addresses_equal(&pinfo->src, &c->client_addr)) ? 0 : 1;
}

/* ───────────────────────────── drawing ───────────────────────────── */

static tvbuff_t *rec_tvb(tvbuff_t *parent, packet_info *pinfo, const guint8 *p, guint n, const char *source)
{
    tvbuff_t *t = tvb_new_child_real_data(parent, p, n, n);
    if (source) add_new_data_source(pinfo, t, source);
    return t;
}

static const char *arrow(guint8 dir) { return dir == 0 ? "→" : "←"; }

static void stream_fields(proto_tree *t, tvbuff_t *tvb, const rec_t *r)
{
    proto_item *it = proto_tree_add_uint64(t, hf_stream, tvb, 0, 0, r->stream);
    proto_item_set_generated(it);
    it = proto_tree_add_uint(t, hf_stream_opener, tvb, 0, 0, r->opener);
    proto_item_set_generated(it);
}

static void draw_payload(proto_tree *tree, packet_info *pinfo, tvbuff_t *parent, const rec_t *r)
{
    tvbuff_t *t = rec_tvb(parent, pinfo, r->payload, r->payload_len, "Noise handshake payload");
    proto_item *pi = proto_tree_add_item(tree, proto_noise, t, 0, -1, ENC_NA);
    proto_item_set_text(pi, "NoiseHandshakePayload (%u bytes, decrypted)", r->payload_len);
    proto_tree *pt = proto_item_add_subtree(pi, ett_noise_payload);
    pb_field_t f; guint at = 0; int k;
    const guint8 *p = r->payload; guint n = r->payload_len;
    const guint8 *idk = NULL, *sig = NULL; guint idk_len = 0, sig_len = 0, sig_off = 0;
    while ((k = pb_next(p, n, at, &f)) > 0) {
        if (f.field == 1 && f.wire == 2) idk = p + f.off, idk_len = f.len;
        if (f.field == 2 && f.wire == 2) sig = p + f.off, sig_len = f.len, sig_off = f.off;
        if (f.field == 1 && f.wire == 2) {
            proto_item *ki = proto_tree_add_item(pt, hf_noise_identity_key, t, f.off, f.len, ENC_NA);
            proto_tree *kt = proto_item_add_subtree(ki, ett_noise_payload);
            pb_field_t g; guint a2 = 0; int k2;
            while ((k2 = pb_next(p + f.off, f.len, a2, &g)) > 0) {
                if (g.field == 1 && g.wire == 0) {
                    proto_tree_add_uint(kt, hf_noise_key_type, t, f.off + g.off, g.len, (guint32)g.value);
                    proto_item_append_text(ki, " (%s)", val_to_str_const((guint32)g.value, key_type_vals, "unknown"));
                }
                else if (g.field == 2 && g.wire == 2) proto_tree_add_item(kt, hf_noise_key_data, t, f.off + g.off, g.len, ENC_NA);
                a2 += (guint)k2;
            }
            char *pid = peer_id_of(pinfo->pool, p + f.off, f.len);
            proto_item *pit = proto_tree_add_string(pt, hf_peer_id, t, f.off, f.len, pid);
            proto_item_set_generated(pit);
            proto_item_append_text(pi, ", peer %s", pid);
            col_append_fstr(pinfo->cinfo, COL_INFO, " %s", pid);
        } else if (f.field == 2 && f.wire == 2) {
            proto_tree_add_item(pt, hf_noise_signature, t, f.off, f.len, ENC_NA);
        } else if (f.field == 4 && f.wire == 2) {
            pb_field_t g; guint a2 = 0; int k2;
            while ((k2 = pb_next(p + f.off, f.len, a2, &g)) > 0) {
                if (g.field == 2 && g.wire == 2) proto_tree_add_item(pt, hf_noise_muxer, t, f.off + g.off, g.len, ENC_UTF_8);
                else if (g.field == 1 && g.wire == 2) proto_tree_add_item(pt, hf_noise_certhash, t, f.off + g.off, g.len, ENC_NA);
                a2 += (guint)k2;
            }
        }
        at += (guint)k;
    }
    if (k < 0) expert_add_info_format(pinfo, pi, &ei_noise_malformed, "the handshake payload is not a valid NoiseHandshakePayload protobuf");
    if (idk && sig && r->s_plain) {
        int v = verify_static_key_sig(idk, idk_len, sig, sig_len, r->s_plain);
        if (v >= 0) {
            proto_item *vi = proto_tree_add_boolean(pt, hf_noise_sig_valid, t, sig_off, sig_len, v == 1);
            proto_item_set_generated(vi);
            proto_item_append_text(pi, v == 1 ? ", signature verified" : ", signature INVALID");
            if (v == 0) expert_add_info_format(pinfo, vi, &ei_noise_malformed, "the identity signature over the Noise static key does not verify");
        } else {
            expert_add_info_format(pinfo, pi, &ei_not_decoded, "identity signature not verified: a key type or encoding this dissector cannot read (peer-ids.md: Ed25519, secp256k1, ECDSA P-256/384/521, RSA)");
        }
    }
}

/* record/README.md and RFC 0003 (routing records): Envelope { public_key = 1, payload_type = 2,
 * payload = 3, signature = 5 } carrying PeerRecord { peer_id = 1, seq = 2, addresses = 3 { multiaddr = 1 } }. */
static void draw_signed_record(proto_tree *tree, packet_info *pinfo, tvbuff_t *t, const guint8 *p, guint base, guint n)
{
    proto_item *ri = proto_tree_add_item(tree, hf_id_signed_record, t, base, n, ENC_NA);
    proto_tree *rt = proto_item_add_subtree(ri, ett_identify);
    pb_field_t f; guint at = 0; int k;
    while ((k = pb_next(p, n, at, &f)) > 0) {
        if (f.wire == 2 && f.field == 1) {
            proto_item *pi = proto_tree_add_string(rt, hf_peer_id, t, base + f.off, f.len, peer_id_of(pinfo->pool, p + f.off, f.len));
            proto_item_set_generated(pi);
        } else if (f.wire == 2 && f.field == 2) {
            proto_tree_add_item(rt, hf_env_payload_type, t, base + f.off, f.len, ENC_NA);
        } else if (f.wire == 2 && f.field == 5) {
            proto_tree_add_item(rt, hf_env_signature, t, base + f.off, f.len, ENC_NA);
        } else if (f.wire == 2 && f.field == 3) {
            const guint8 *q = p + f.off; guint qb = base + f.off;
            pb_field_t g; guint a2 = 0; int k2;
            while ((k2 = pb_next(q, f.len, a2, &g)) > 0) {
                if (g.wire == 2 && g.field == 1)
                    proto_tree_add_string(rt, hf_rec_peer_id, t, qb + g.off, g.len, base58(pinfo->pool, q + g.off, g.len));
                else if (g.wire == 0 && g.field == 2)
                    proto_tree_add_uint64(rt, hf_rec_seq, t, qb + g.off, g.len, g.value);
                else if (g.wire == 2 && g.field == 3) {
                    pb_field_t h; guint a3 = 0; int k3;
                    while ((k3 = pb_next(q + g.off, g.len, a3, &h)) > 0) {
                        if (h.wire == 2 && h.field == 1)
                            proto_tree_add_string(rt, hf_rec_addr, t, qb + g.off + h.off, h.len, multiaddr_text(pinfo->pool, q + g.off + h.off, h.len));
                        a3 += (guint)k3;
                    }
                }
                a2 += (guint)k2;
            }
        }
        at += (guint)k;
    }
    if (k < 0) expert_add_info_format(pinfo, ri, &ei_stream_malformed, "not a valid signed envelope protobuf");
}

static void draw_identify(proto_tree *tree, packet_info *pinfo, tvbuff_t *t, const guint8 *p, guint n)
{
    proto_item *ii = proto_tree_add_item(tree, proto_identify, t, 0, -1, ENC_NA);
    proto_tree *it = proto_item_add_subtree(ii, ett_identify);
    pb_field_t f; guint at = 0; int k;
    while ((k = pb_next(p, n, at, &f)) > 0) {
        if (f.wire == 2) {
            switch (f.field) {
            case 5: proto_tree_add_item(it, hf_id_protocol_version, t, f.off, f.len, ENC_UTF_8); break;
            case 6: proto_tree_add_item(it, hf_id_agent_version, t, f.off, f.len, ENC_UTF_8); break;
            case 1: {
                proto_tree_add_item(it, hf_id_public_key, t, f.off, f.len, ENC_NA);
                proto_item *pit = proto_tree_add_string(it, hf_peer_id, t, f.off, f.len, peer_id_of(pinfo->pool, p + f.off, f.len));
                proto_item_set_generated(pit);
                break;
            }
            case 2: proto_tree_add_string(it, hf_id_listen_addr, t, f.off, f.len, multiaddr_text(pinfo->pool, p + f.off, f.len)); break;
            case 4: proto_tree_add_string(it, hf_id_observed_addr, t, f.off, f.len, multiaddr_text(pinfo->pool, p + f.off, f.len)); break;
            case 3: proto_tree_add_item(it, hf_id_protocols, t, f.off, f.len, ENC_UTF_8); break;
            case 8: draw_signed_record(it, pinfo, t, p + f.off, f.off, f.len); break;
            default: break;
            }
        }
        at += (guint)k;
    }
    if (k < 0) expert_add_info_format(pinfo, ii, &ei_stream_malformed, "not a valid Identify protobuf");
}

static void draw(const rec_t *r, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree)
{
    proto_item *pi;
    proto_tree *t;
    tvbuff_t *rt;
    switch (r->kind) {
    case R_MS: {
        rt = rec_tvb(tvb, pinfo, r->bytes, r->len, NULL);
        pi = proto_tree_add_item(tree, proto_ms, rt, 0, -1, ENC_NA);
        t = proto_item_add_subtree(pi, ett_ms);
        proto_item_set_text(pi, "multistream-select %s %s%s", arrow(r->dir), r->text, r->in_stream ? "" : " (connection)");
        proto_tree_add_uint(t, hf_direction, rt, 0, 0, r->dir);
        if (r->in_stream) stream_fields(t, rt, r);
        if (r->len > 0) {
            guint64 l = 0; int k = uvarint(r->bytes, r->len, &l);
            proto_tree_add_uint(t, hf_ms_length, rt, 0, k > 0 ? k : 0, (guint32)l);
            proto_tree_add_string(t, hf_ms_message, rt, k > 0 ? k : 0, r->len - (guint)(k > 0 ? k : 0), r->text);
        } else proto_tree_add_string(t, hf_ms_message, rt, 0, 0, r->text);
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, " ", "%s%s", r->in_stream ? "" : "ms ", r->text);
        break;
    }
    case R_MS_LS: {
        rt = rec_tvb(tvb, pinfo, r->bytes, r->len, NULL);
        pi = proto_tree_add_item(tree, proto_ms, rt, 0, -1, ENC_NA);
        proto_item_set_text(pi, "multistream-select %s ls response", arrow(r->dir));
        t = proto_item_add_subtree(pi, ett_ms);
        proto_tree_add_uint(t, hf_direction, rt, 0, 0, r->dir);
        if (r->in_stream) stream_fields(t, rt, r);
        guint o = 0;
        while (o < r->len) {
            guint64 l; int k = uvarint(r->bytes + o, r->len - o, &l);
            if (k <= 0 || l == 0 || l > r->len - o - (guint)k) break;
            proto_tree_add_string(t, hf_ms_ls_protocol, rt, o, k + (int)l,
                wmem_strndup(pinfo->pool, (const char *)r->bytes + o + k, (size_t)l - (r->bytes[o + k + l - 1] == '\n' ? 1 : 0)));
            o += (guint)k + (guint)l;
        }
        col_append_sep_str(pinfo->cinfo, COL_INFO, " ", "ls response");
        break;
    }
    case R_NOISE_HS: {
        rt = rec_tvb(tvb, pinfo, r->bytes, r->len, NULL);
        pi = proto_tree_add_item(tree, proto_noise, rt, 0, -1, ENC_NA);
        proto_item_set_text(pi, "Noise handshake message %u %s %s (%u bytes)", r->hs_number, arrow(r->dir), xx_tokens[r->hs_number - 1], r->len);
        t = proto_item_add_subtree(pi, ett_noise);
        proto_tree_add_uint(t, hf_direction, rt, 0, 0, r->dir);
        proto_tree_add_uint(t, hf_noise_length, rt, 0, 0, r->len);
        proto_tree_add_uint(t, hf_noise_hs_message, rt, 0, 0, r->hs_number);
        proto_tree_add_string(t, hf_noise_tokens, rt, 0, 0, xx_tokens[r->hs_number - 1]);
        guint o = 0;
        if (r->hs_number <= 2 && r->len >= DH_LEN) { proto_tree_add_item(t, hf_noise_e, rt, 0, DH_LEN, ENC_NA); o = DH_LEN; }
        if (r->hs_number >= 2 && r->len >= o + DH_LEN + TAG_LEN) {
            proto_tree_add_item(t, hf_noise_s, rt, o, DH_LEN + TAG_LEN, ENC_NA);
            if (r->s_plain) proto_tree_add_bytes_with_length(t, hf_noise_s_plain, rt, o, DH_LEN + TAG_LEN, r->s_plain, (gint)r->s_plen);
            o += DH_LEN + TAG_LEN;
        }
        if (o <= r->len) {
            proto_tree_add_item(t, hf_noise_payload_ct, rt, o, r->len - o, ENC_NA);
            guint pl = r->hs_number == 1 ? r->len - o : (r->len - o >= TAG_LEN ? r->len - o - TAG_LEN : 0);
            proto_tree_add_uint(t, hf_noise_payload_len, rt, o, r->len - o, pl);
        }
        if (r->has_h) { proto_item *hi = proto_tree_add_bytes_with_length(t, hf_noise_hash, rt, 0, 0, r->h, 32); proto_item_set_generated(hi); }
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, " ", "Noise %s", xx_tokens[r->hs_number - 1]);
        if (r->payload) draw_payload(t, pinfo, rt, r);
        break;
    }
    case R_NOISE_DATA: {
        rt = rec_tvb(tvb, pinfo, r->bytes, r->len, NULL);
        pi = proto_tree_add_item(tree, proto_noise, rt, 0, -1, ENC_NA);
        t = proto_item_add_subtree(pi, ett_noise);
        proto_tree_add_uint(t, hf_direction, rt, 0, 0, r->dir);
        proto_tree_add_uint(t, hf_noise_length, rt, 0, 0, r->len);
        proto_tree_add_item(t, hf_noise_ciphertext, rt, 0, r->len, ENC_NA);
        proto_item *di = proto_tree_add_boolean(t, hf_noise_decrypted, rt, 0, 0, r->plain != NULL);
        proto_item_set_generated(di);
        if (r->plain) {
            proto_item_set_text(pi, "Noise transport message %s %u bytes (%u bytes plaintext)", arrow(r->dir), r->len, r->plen);
            tvbuff_t *pt = rec_tvb(tvb, pinfo, r->plain, r->plen, "Decrypted Noise");
            proto_tree_add_item(t, hf_noise_plaintext, pt, 0, r->plen, ENC_NA);
        } else {
            proto_item_set_text(pi, "Noise transport message %s %u bytes (encrypted)", arrow(r->dir), r->len);
            col_append_sep_str(pinfo->cinfo, COL_INFO, " ", "Noise encrypted");
        }
        break;
    }
    case R_NOTE: case R_ERROR: {
        int proto = r->layer == L_NOISE ? proto_noise : r->layer == L_YAMUX ? proto_yamux : r->layer == L_MPLEX ? proto_mplex : r->layer == L_MS ? proto_ms : proto_libp2p;
        rt = r->bytes ? rec_tvb(tvb, pinfo, r->bytes, r->len, NULL) : tvb;
        pi = proto_tree_add_item(tree, proto, rt, 0, r->bytes ? -1 : 0, ENC_NA);
        proto_item_set_text(pi, "%s", r->text);
        t = proto_item_add_subtree(pi, ett_libp2p);
        proto_item *ni = proto_tree_add_string(t, hf_note, rt, 0, 0, r->text);
        proto_item_set_generated(ni);
        if (r->early_muxer) { proto_item *ei = proto_tree_add_string(t, hf_noise_early_muxer, rt, 0, 0, r->early_muxer); proto_item_set_generated(ei); }
        if (r->kind == R_ERROR) {
            expert_field *ei = r->layer == L_NOISE ? &ei_noise_decrypt : r->layer == L_YAMUX ? &ei_yamux_violation :
                               r->layer == L_MPLEX ? &ei_mplex_violation : r->layer == L_MS ? &ei_ms_malformed :
                               r->layer == L_STREAM ? &ei_stream_malformed : &ei_gap;
            expert_add_info_format(pinfo, pi, ei, "%s", r->text);
        } else if (strstr(r->text, "no keys") != NULL) {
            expert_add_info_format(pinfo, pi, &ei_noise_nokeys, "%s", r->text);
        } else if (strstr(r->text, "not decoded") != NULL) {
            expert_add_info_format(pinfo, pi, &ei_not_decoded, "%s", r->text);
        }
        break;
    }
    case R_YAMUX: {
        rt = rec_tvb(tvb, pinfo, r->bytes, r->len, NULL);
        guint8 type = r->bytes[1];
        guint16 flags = pntoh16(r->bytes + 2);
        guint32 sid = pntoh32(r->bytes + 4), length = pntoh32(r->bytes + 8);
        pi = proto_tree_add_item(tree, proto_yamux, rt, 0, -1, ENC_NA);
        wmem_strbuf_t *fl = wmem_strbuf_new(pinfo->pool, "");
        if (flags & 1) wmem_strbuf_append(fl, " SYN");
        if (flags & 2) wmem_strbuf_append(fl, " ACK");
        if (flags & 4) wmem_strbuf_append(fl, " FIN");
        if (flags & 8) wmem_strbuf_append(fl, " RST");
        const char *tn = val_to_str_const(type, yamux_type_vals, "?");
        proto_item_set_text(pi, "yamux %s %s%s%s%s stream %u length %u", arrow(r->dir), tn,
                            wmem_strbuf_get_len(fl) ? " [" : "", wmem_strbuf_get_len(fl) ? wmem_strbuf_get_str(fl) + 1 : "", wmem_strbuf_get_len(fl) ? "]" : "", sid, length);
        t = proto_item_add_subtree(pi, ett_yamux);
        proto_tree_add_uint(t, hf_direction, rt, 0, 0, r->dir);
        proto_tree_add_item(t, hf_yamux_version, rt, 0, 1, ENC_BIG_ENDIAN);
        proto_tree_add_item(t, hf_yamux_type, rt, 1, 1, ENC_BIG_ENDIAN);
        static int *const flag_fields[] = { &hf_yamux_flag_syn, &hf_yamux_flag_ack, &hf_yamux_flag_fin, &hf_yamux_flag_rst, NULL };
        proto_tree_add_bitmask(t, rt, 2, hf_yamux_flags, ett_yamux_flags, flag_fields, ENC_BIG_ENDIAN);
        proto_tree_add_item(t, hf_yamux_stream_id, rt, 4, 4, ENC_BIG_ENDIAN);
        proto_tree_add_item(t, hf_yamux_length, rt, 8, 4, ENC_BIG_ENDIAN);
        if (type == 1) proto_tree_add_item(t, hf_yamux_window_delta, rt, 8, 4, ENC_BIG_ENDIAN);
        if (type == 2) proto_tree_add_item(t, hf_yamux_opaque, rt, 8, 4, ENC_BIG_ENDIAN);
        if (type == 3) proto_tree_add_item(t, hf_yamux_goaway, rt, 8, 4, ENC_BIG_ENDIAN);
        if (r->len > YAMUX_HEADER) proto_tree_add_item(t, hf_yamux_data, rt, YAMUX_HEADER, r->len - YAMUX_HEADER, ENC_NA);
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, " ", "yamux %s%s%s%s %u", tn, wmem_strbuf_get_len(fl) ? "[" : "", wmem_strbuf_get_len(fl) ? wmem_strbuf_get_str(fl) + 1 : "", wmem_strbuf_get_len(fl) ? "]" : "", sid);
        break;
    }
    case R_MPLEX: {
        rt = rec_tvb(tvb, pinfo, r->bytes, r->len, NULL);
        guint64 hdr = 0, len = 0; int a = uvarint(r->bytes, r->len, &hdr);
        uvarint(r->bytes + a, r->len - (guint)a, &len);
        guint flag = (guint)(hdr & 7);
        pi = proto_tree_add_item(tree, proto_mplex, rt, 0, -1, ENC_NA);
        proto_item_set_text(pi, "mplex %s %s stream %" PRIu64 " length %" PRIu64, arrow(r->dir), val_to_str_const(flag, mplex_flag_vals, "?"), hdr >> 3, len);
        t = proto_item_add_subtree(pi, ett_mplex);
        proto_tree_add_uint(t, hf_direction, rt, 0, 0, r->dir);
        proto_tree_add_uint64(t, hf_mplex_stream_id, rt, 0, a, hdr >> 3);
        proto_tree_add_uint(t, hf_mplex_flag, rt, 0, a, flag);
        proto_tree_add_uint64(t, hf_mplex_length, rt, a, (gint)r->hdrlen - a, len);
        proto_item *oi = proto_tree_add_uint(t, hf_stream_opener, rt, 0, 0, r->opener);
        proto_item_set_generated(oi);
        if (len > 0) {
            if (flag == 0) proto_tree_add_item(t, hf_mplex_name, rt, r->hdrlen, (gint)len, ENC_UTF_8);
            else proto_tree_add_item(t, hf_mplex_data, rt, r->hdrlen, (gint)len, ENC_NA);
        }
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, " ", "mplex %s %" PRIu64, val_to_str_const(flag, mplex_flag_vals, "?"), hdr >> 3);
        break;
    }
    case R_PROTOCOL: {
        pi = proto_tree_add_item(tree, proto_libp2p, tvb, 0, 0, ENC_NA);
        proto_item_set_text(pi, "libp2p stream %" PRIu64 " (opened by the %s): protocol %s", r->stream, r->opener == 0 ? "client" : "server", r->text);
        t = proto_item_add_subtree(pi, ett_libp2p);
        stream_fields(t, tvb, r);
        proto_item *ii = proto_tree_add_string(t, hf_protocol, tvb, 0, 0, r->text);
        proto_item_set_generated(ii);
        col_append_sep_fstr(pinfo->cinfo, COL_INFO, " ", "[%" PRIu64 "] %s", r->stream, r->text);
        tap_queue_packet(libp2p_tap, pinfo, r);
        break;
    }
    case R_MESSAGE: case R_RAW: {
        rt = rec_tvb(tvb, pinfo, r->bytes, r->len, r->kind == R_MESSAGE ? "libp2p message" : NULL);
        pi = proto_tree_add_item(tree, proto_libp2p, rt, 0, -1, ENC_NA);
        gboolean text = printable(r->bytes, r->len);
        if (text) proto_item_set_text(pi, "libp2p stream %" PRIu64 " %s \"%s\" (%u bytes)", r->stream, arrow(r->dir), format_text(pinfo->pool, (const void *)r->bytes, r->len), r->len);
        else proto_item_set_text(pi, "libp2p stream %" PRIu64 " %s %s %u bytes", r->stream, arrow(r->dir), r->kind == R_MESSAGE ? "message" : "data", r->len);
        t = proto_item_add_subtree(pi, ett_libp2p);
        proto_tree_add_uint(t, hf_direction, rt, 0, 0, r->dir);
        stream_fields(t, rt, r);
        proto_item *ii = proto_tree_add_string(t, hf_protocol, rt, 0, 0, r->protocol);
        proto_item_set_generated(ii);
        if (r->kind == R_MESSAGE) {
            proto_tree_add_uint(t, hf_message_length, rt, 0, 0, r->len);
            proto_tree_add_item(t, hf_message, rt, 0, r->len, ENC_NA);
            if (text) proto_tree_add_item(t, hf_message_text, rt, 0, r->len, ENC_UTF_8);
            if (strcmp(r->protocol, "/ipfs/id/1.0.0") == 0 || strcmp(r->protocol, "/ipfs/id/push/1.0.0") == 0)
                draw_identify(t, pinfo, rt, r->bytes, r->len);
            col_append_sep_fstr(pinfo->cinfo, COL_INFO, " ", text ? "[%" PRIu64 "] \"%s\"" : "[%" PRIu64 "] %s", r->stream,
                                text ? format_text(pinfo->pool, (const void *)r->bytes, r->len) : "message");
        } else {
            proto_tree_add_item(t, hf_data, rt, 0, r->len, ENC_NA);
            if (strcmp(r->protocol, "/ipfs/ping/1.0.0") == 0) {
                /* ping/ping.md: 32-byte payloads, echoed */
                guint first = (guint)((32 - r->raw_offset % 32) % 32);
                for (guint o = first; o + 32 <= r->len; o += 32) proto_tree_add_item(t, hf_ping_payload, rt, o, 32, ENC_NA);
            } else if (strcmp(r->protocol, "/perf/1.0.0") == 0 && r->dir == r->opener && r->raw_offset == 0 && r->len >= 8) {
                /* perf/perf.md: the client first sends the u64 big-endian number of bytes it wants back */
                proto_tree_add_item(t, hf_perf_size, rt, 0, 8, ENC_BIG_ENDIAN);
            }
        }
        break;
    }
    default:
        break;
    }
}

/* ───────────────────────────── dissection ───────────────────────────── */

static frame_recs_t *frame_records(packet_info *pinfo, gboolean create)
{
    guint32 key = pinfo->curr_layer_num;
    frame_recs_t *f = (frame_recs_t *)p_get_proto_data(wmem_file_scope(), pinfo, proto_libp2p, key);
    if (f || !create) return f;
    f = wmem_new0(wmem_file_scope(), frame_recs_t);
    f->recs = g_ptr_array_new();
    p_add_proto_data(wmem_file_scope(), pinfo, proto_libp2p, key, f);
    return f;
}

static void draw_all(frame_recs_t *f, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree)
{
    if (!f) return;
    for (guint i = 0; i < f->recs->len; i++) {
        rec_t *r = (rec_t *)g_ptr_array_index(f->recs, i);
        if (r->kind == R_TLS) {
            /* the bytes after "/tls/1.0.0" that sat in our buffer: TLS reads them in this frame */
            tvbuff_t *t = rec_tvb(tvb, pinfo, r->bytes, r->len, "TLS (after multistream)");
            if (tls_handle) {
                address a = pinfo->src, b = pinfo->dst; guint32 pa = pinfo->srcport, pb = pinfo->destport;
                conn_t *c = get_conn(pinfo, FALSE);
                gboolean swap = c && dir_of(c, pinfo) != r->dir;
                if (swap) { pinfo->src = b; pinfo->dst = a; pinfo->srcport = pb; pinfo->destport = pa; }
                call_dissector(tls_handle, t, pinfo, tree);
                if (swap) { pinfo->src = a; pinfo->dst = b; pinfo->srcport = pa; pinfo->destport = pb; }
            }
            continue;
        }
        draw(r, tvb, pinfo, tree);
    }
}

/* ───────────────────────────── TLS: the certificate's libp2p extension ───────────────────────────── */

/* A DER header only (tag and length within `n`; the content may run past `n`). */
static guint der_head(const guint8 *p, guint n, guint8 tag, guint *len)
{
    if (n < 2 || p[0] != tag) return 0;
    guint l = p[1], o = 2;
    if (l & 0x80) {
        guint nb = l & 0x7f;
        if (nb == 0 || nb > 3 || n < 2 + nb) return 0;
        l = 0;
        for (guint i = 0; i < nb; i++) l = (l << 8) | p[2 + i];
        o = 2 + nb;
    }
    *len = l;
    return o;
}

/* The certificate around `ext` (the extension value's offset) in `base[0..ext_end)`: the innermost
 * Certificate ::= SEQUENCE { TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature,
 * issuer, validity, subject, subjectPublicKeyInfo, ... } ... } (RFC 5280 §4.1) whose TBSCertificate
 * holds `ext`. The buffer we may read ends with the extension (X.509 hands us only its value), so
 * the certificate's own end is not checked against it: everything read lies before `ext_end`.
 * Returns its SubjectPublicKeyInfo TLV, or NULL. */
static const guint8 *spki_around(const guint8 *base, guint ext, guint ext_end, guint *spki_len)
{
    for (guint s = ext; s-- > 0; ) {
        guint l, l2, eo, el, used;
        guint o = der_head(base + s, ext_end - s, 0x30, &l);
        if (o == 0 || s + o + l < ext_end) continue;
        guint t = s + o;
        guint o2 = der_head(base + t, ext_end - t, 0x30, &l2);
        if (o2 == 0 || t + o2 + l2 < ext_end) continue;
        const guint8 *tbs = base + t + o2;
        guint avail = ext - (t + o2);    /* the fields before the extensions */
        guint at = 0;
        if (avail > 0 && tbs[0] == 0xa0) { if ((used = der_tlv(tbs, avail, 0xa0, &eo, &el)) == 0) continue; at += used; }
        if ((used = der_tlv(tbs + at, avail - at, 0x02, &eo, &el)) == 0) continue;
        at += used;
        gboolean ok = TRUE;
        for (int i = 0; i < 4 && ok; i++) {   /* signature, issuer, validity, subject */
            if ((used = der_tlv(tbs + at, avail - at, 0x30, &eo, &el)) == 0) ok = FALSE; else at += used;
        }
        if (!ok || (used = der_tlv(tbs + at, avail - at, 0x30, &eo, &el)) == 0) continue;
        *spki_len = used;
        return tbs + at;
    }
    return NULL;
}

/* libp2p specs tls/tls.md: the extension's value is SignedKey ::= SEQUENCE { publicKey OCTET STRING,
 * signature OCTET STRING } (the spec's ASN.1 says BIT STRING; its vectors and go/js/rust use OCTET
 * STRING, and so does switchyard: both are read). The host key signs "libp2p-tls-handshake:" || the
 * certificate's SubjectPublicKeyInfo (DER). Called by Wireshark's X.509 dissector for the OID. */
static int dissect_tls_libp2p_extension(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    guint n = tvb_captured_length(tvb);
    if (n < 2) return 0;
    const guint8 *p = tvb_get_ptr(tvb, 0, n);
    guint o, l, ko, kl, so, sl, used;
    guint total = der_tlv(p, n, 0x30, &o, &l);
    if (total == 0) return 0;
    const guint8 *seq = p + o;
    guint8 ktag = l > 0 ? seq[0] : 0;
    if ((ktag != 0x04 && ktag != 0x03) || (used = der_tlv(seq, l, ktag, &ko, &kl)) == 0) return 0;
    guint8 stag = used < l ? seq[used] : 0;
    if ((stag != 0x04 && stag != 0x03) || der_tlv(seq + used, l - used, stag, &so, &sl) == 0) return 0;
    guint key_off = o + ko, sig_off = o + used + so;
    /* a BIT STRING starts with its count of unused bits (0 here) */
    if (ktag == 0x03) { if (kl < 1) return 0; key_off++; kl--; }
    if (stag == 0x03) { if (sl < 1) return 0; sig_off++; sl--; }

    proto_item *ti = proto_tree_add_item(tree, hf_tls_ext, tvb, 0, total, ENC_NA);
    proto_tree *et = proto_item_add_subtree(ti, ett_tls_ext);
    proto_item *ki = proto_tree_add_item(et, hf_tls_ext_key, tvb, key_off, kl, ENC_NA);
    pb_field_t f; guint at = 0; int k;
    while ((k = pb_next(p + key_off, kl, at, &f)) > 0) {
        if (f.field == 1 && f.wire == 0) {
            proto_tree_add_uint(et, hf_tls_ext_key_type, tvb, key_off + f.off, f.len, (guint32)f.value);
            proto_item_append_text(ki, " (%s)", val_to_str_const((guint32)f.value, key_type_vals, "unknown"));
            proto_item_append_text(ti, ": %s", val_to_str_const((guint32)f.value, key_type_vals, "unknown key"));
        }
        at += (guint)k;
    }
    char *pid = peer_id_of(pinfo->pool, p + key_off, kl);
    proto_item *pit = proto_tree_add_string(et, hf_peer_id, tvb, key_off, kl, pid);
    proto_item_set_generated(pit);
    proto_item_append_text(ti, " %s", pid);
    proto_tree_add_item(et, hf_tls_ext_signature, tvb, sig_off, sl, ENC_NA);

    /* The certificate's SubjectPublicKeyInfo sits before this extension in the buffer X.509 reads
     * (the TLS Certificate message): found from where this tvb starts in it. */
    const guint8 *whole = p - tvb_raw_offset(tvb);
    guint spki_len = 0;
    const guint8 *spki = spki_around(whole, (guint)tvb_raw_offset(tvb), (guint)tvb_raw_offset(tvb) + n, &spki_len);
    int v = -1;
    if (spki != NULL) {
        static const char prefix[] = "libp2p-tls-handshake:";
        guint mlen = (guint)sizeof prefix - 1 + spki_len;
        guint8 *msg = (guint8 *)wmem_alloc(pinfo->pool, mlen);
        memcpy(msg, prefix, sizeof prefix - 1);
        memcpy(msg + sizeof prefix - 1, spki, spki_len);
        v = verify_libp2p_sig(p + key_off, kl, msg, mlen, p + sig_off, sl);
    }
    if (v >= 0) {
        proto_item *vi = proto_tree_add_boolean(et, hf_tls_ext_sig_valid, tvb, sig_off, sl, v == 1);
        proto_item_set_generated(vi);
        proto_item_append_text(ti, v == 1 ? ", signature verified" : ", signature INVALID");
        if (v == 0) expert_add_info_format(pinfo, vi, &ei_noise_malformed, "the host key's signature over the certificate key does not verify (tls.md)");
    } else {
        expert_add_info_format(pinfo, ti, &ei_not_decoded, "libp2p extension signature not verified: a key type this dissector cannot read, or the certificate's key was not found");
    }
    return (int)total;
}

/* TCP payload of a libp2p connection. */
static int dissect_libp2p(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    struct tcpinfo *tcpinfo = (struct tcpinfo *)data;
    col_set_str(pinfo->cinfo, COL_PROTOCOL, "libp2p");
    col_clear(pinfo->cinfo, COL_INFO);
    guint len = tvb_reported_length(tvb);
    if (!PINFO_FD_VISITED(pinfo)) {
        conn_t *c = get_conn(pinfo, TRUE);
        guint8 dir = dir_of(c, pinfo);
        frame_recs_t *f = frame_records(pinfo, TRUE);
        ctx_t x = { c, f->recs };
        guint skip = 0;
        gboolean go = !c->gap[dir];
        if (go && tcpinfo) {
            /* retransmissions and overlaps: only bytes past what this direction already gave us */
            if (!c->seq_known[dir]) { c->seq_known[dir] = TRUE; c->next_seq[dir] = tcpinfo->seq; }
            gint32 d = (gint32)(tcpinfo->seq - c->next_seq[dir]);
            if (d > 0) {
                rec_error(&x, L_CONN, dir, "bytes of this direction are missing (lost or not captured): the rest of it is not decoded");
                c->gap[dir] = TRUE; go = FALSE;
            } else {
                skip = (guint)(-d);
                if (skip >= len) go = FALSE;
                else c->next_seq[dir] = tcpinfo->seq + len;
            }
        }
        if (go && tvb_captured_length(tvb) < len) { rec_error(&x, L_CONN, dir, "packet cut short by the capture's snap length"); c->gap[dir] = TRUE; go = FALSE; }
        if (go) {
            const guint8 *p = tvb_get_ptr(tvb, skip, len - skip);
            guint n = len - skip;
            if (c->security == 0) {
                if (ms_push(&x, &c->ms, dir, p, n)) {
                    const char *sec = c->ms.agreed;
                    if (strcmp(sec, NOISE_PROTOCOL_ID) == 0) {
                        c->security = 1;
                        for (guint8 d2 = 0; d2 < 2; d2++) {
                            buf_t *b = &c->ms.b[d2];
                            if (b->len > 0) { guint8 *left = dup_bytes(b->data, b->len); guint ln = b->len; b->len = 0; noise_push(&x, c, d2, left, ln); }
                        }
                    } else if (strcmp(sec, TLS_PROTOCOL_ID) == 0 && tls_handle) {
                        c->security = 2;
                        /* the segments that follow go to Wireshark's TLS dissector (dissect_libp2p) */
                        for (guint8 d2 = 0; d2 < 2; d2++) {
                            buf_t *b = &c->ms.b[d2];
                            if (b->len > 0) {
                                rec_t *r = rec_new(&x, R_TLS, L_CONN, d2);
                                r->bytes = dup_bytes(b->data, b->len); r->len = b->len; b->len = 0;
                            }
                        }
                    } else {
                        c->security = 3;
                        rec_t *r = rec_new(&x, R_NOTE, L_CONN, dir);
                        r->text = wmem_strdup_printf(wmem_file_scope(), "security protocol %s is not decoded", sec);
                    }
                }
            } else if (c->security == 1) {
                noise_push(&x, c, dir, p, n);
            }
        }
    }
    {
        conn_t *c = get_conn(pinfo, FALSE);
        frame_recs_t *fr = frame_records(pinfo, FALSE);
        if (c && c->security == 2 && tls_handle && (fr == NULL || fr->recs->len == 0)) {
            /* after /tls/1.0.0: the segment is Wireshark's TLS dissector's (it reassembles records
             * itself and hands the decrypted data back to us through the ALPN table) */
            /* let TLS ask TCP for more bytes (a record across segments), as if TCP called it */
            pinfo->can_desegment = pinfo->saved_can_desegment;
            return call_dissector(tls_handle, tvb, pinfo, tree);
        }
    }
    proto_item *ti = proto_tree_add_item(tree, proto_libp2p, tvb, 0, -1, ENC_NA);
    proto_item_append_text(ti, " (%u bytes of TCP payload)", len);
    draw_all(frame_records(pinfo, FALSE), tvb, pinfo, tree);
    return (int)len;
}

/* Decrypted TLS application data (ALPN libp2p / a muxer id, or after /tls/1.0.0). */
static int dissect_tls_app(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, int muxer)
{
    col_set_str(pinfo->cinfo, COL_PROTOCOL, "libp2p");
    guint len = tvb_reported_length(tvb);
    if (!PINFO_FD_VISITED(pinfo)) {
        conn_t *c = get_conn(pinfo, TRUE);
        if (c->security == 0) c->security = 2;
        guint8 dir = dir_of(c, pinfo);
        frame_recs_t *f = frame_records(pinfo, TRUE);
        ctx_t x = { c, f->recs };
        if (!c->post_started) {
            post_start(&x, c, 0);
            if (muxer == 1) muxer_by_id(&x, c, YAMUX_ID, dir);
            else if (muxer == 2) muxer_by_id(&x, c, MPLEX_ID, dir);
        }
        if (tvb_captured_length(tvb) >= len) post_push(&x, c, dir, tvb_get_ptr(tvb, 0, len), len);
    }
    draw_all(frame_records(pinfo, FALSE), tvb, pinfo, tree);
    return (int)len;
}

static int dissect_tls_ms(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_) { return dissect_tls_app(tvb, pinfo, tree, 0); }
static int dissect_tls_yamux(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_) { return dissect_tls_app(tvb, pinfo, tree, 1); }
static int dissect_tls_mplex(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_) { return dissect_tls_app(tvb, pinfo, tree, 2); }

/* Heuristic: a TCP payload that starts with the multistream header "\x13/multistream/1.0.0\n". */
static heur_result_t dissect_libp2p_heur(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    static const guint8 header[] = "\x13" MS_PROTOCOL_ID "\n";
    struct tcpinfo *tcpinfo = (struct tcpinfo *)data;
    guint n = tvb_captured_length(tvb);
    if (n >= sizeof header - 1) {
        if (tvb_memeql(tvb, 0, header, sizeof header - 1) != 0) return FALSE;
    } else {
        /* js-libp2p writes the header's length byte on its own: a prefix of the header as the
         * connection's very first bytes (relative sequence number 1) is enough */
        if (n == 0 || tcpinfo == NULL || tcpinfo->seq != 1 || tvb_memeql(tvb, 0, header, n) != 0) return FALSE;
    }
    conversation_t *conv = find_or_create_conversation(pinfo);
    conversation_set_dissector(conv, libp2p_handle);
    dissect_libp2p(tvb, pinfo, tree, data);
    return TRUE;
}

static void libp2p_init(void)
{
    keylog_load();
}

/* ───────────────────────────── registration ───────────────────────────── */

/* ───────────────────────────── statistics ───────────────────────────── */

/* Statistics → libp2p → Streams by protocol (tshark -z libp2p.streams,tree): every stream whose
 * protocol was agreed, counted per protocol id and, below it, per side that opened it. */
static const char st_streams[] = "Streams by protocol";
static int st_streams_node = -1;

static void streams_stats_init(stats_tree *st)
{
    st_streams_node = stats_tree_create_node(st, st_streams, 0, STAT_DT_INT, TRUE);
}

static tap_packet_status streams_stats_packet(stats_tree *st, packet_info *pinfo _U_, epan_dissect_t *edt _U_, const void *p, tap_flags_t flags _U_)
{
    const rec_t *r = (const rec_t *)p;
    tick_stat_node(st, st_streams, 0, TRUE);
    int proto_node = tick_stat_node(st, r->text, st_streams_node, TRUE);
    tick_stat_node(st, r->opener == 0 ? "opened by the client" : "opened by the server", proto_node, FALSE);
    return TAP_PACKET_REDRAW;
}

void proto_register_libp2p(void);
void proto_reg_handoff_libp2p(void);

void proto_register_libp2p(void)
{
    static hf_register_info hf[] = {
        { &hf_direction, { "Direction", "libp2p.direction", FT_UINT8, BASE_DEC, VALS(dir_vals), 0, "0 = client to server (the TCP dialer), 1 = server to client", HFILL } },
        { &hf_protocol, { "Protocol", "libp2p.protocol", FT_STRING, BASE_NONE, NULL, 0, "The protocol id negotiated on the stream", HFILL } },
        { &hf_stream, { "Stream", "libp2p.stream", FT_UINT64, BASE_DEC, NULL, 0, "Stream id (yamux or mplex)", HFILL } },
        { &hf_stream_opener, { "Opened by", "libp2p.stream.opener", FT_UINT8, BASE_DEC, VALS(opener_vals), 0, NULL, HFILL } },
        { &hf_message, { "Message", "libp2p.message", FT_BYTES, BASE_NONE, NULL, 0, "A length-prefixed message on a stream", HFILL } },
        { &hf_message_length, { "Message length", "libp2p.message.length", FT_UINT32, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_message_text, { "Text", "libp2p.message.text", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_data, { "Data", "libp2p.data", FT_BYTES, BASE_NONE, NULL, 0, "Raw stream bytes", HFILL } },
        { &hf_peer_id, { "Peer ID", "libp2p.peer_id", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_tls_ext, { "libp2p Public Key Extension", "libp2p.tls.extension", FT_BYTES, BASE_NONE, NULL, 0, "SignedKey in the TLS certificate (libp2p specs tls/tls.md, OID 1.3.6.1.4.1.53594.1.1)", HFILL } },
        { &hf_tls_ext_key, { "Host public key", "libp2p.tls.public_key", FT_BYTES, BASE_NONE, NULL, 0, "PublicKey protobuf (peer-ids.md)", HFILL } },
        { &hf_tls_ext_key_type, { "Key type", "libp2p.tls.key_type", FT_UINT32, BASE_DEC, VALS(key_type_vals), 0, NULL, HFILL } },
        { &hf_tls_ext_signature, { "Signature", "libp2p.tls.signature", FT_BYTES, BASE_NONE, NULL, 0, "The host key's signature over \"libp2p-tls-handshake:\" || the certificate's SubjectPublicKeyInfo", HFILL } },
        { &hf_tls_ext_sig_valid, { "Signature verified", "libp2p.tls.signature_verified", FT_BOOLEAN, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_note, { "Note", "libp2p.note", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_ping_payload, { "Ping payload", "libp2p.ping.payload", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_perf_size, { "Bytes to send back", "libp2p.perf.size", FT_UINT64, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_ms_message, { "Message", "multistream.message", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_ms_length, { "Length", "multistream.length", FT_UINT32, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_ms_ls_protocol, { "Listed protocol", "multistream.ls.protocol", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_length, { "Length", "noise.length", FT_UINT16, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_noise_hs_message, { "Handshake message", "noise.handshake", FT_UINT8, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_noise_tokens, { "Tokens", "noise.tokens", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_e, { "Ephemeral key (e)", "noise.e", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_s, { "Static key (s, encrypted)", "noise.s", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_s_plain, { "Static key (decrypted)", "noise.s.decrypted", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_payload_ct, { "Payload (as sent)", "noise.payload.ciphertext", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_payload_len, { "Payload length", "noise.payload.length", FT_UINT32, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_noise_identity_key, { "Identity key", "noise.payload.identity_key", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_key_type, { "Key type", "noise.payload.identity_key.type", FT_UINT32, BASE_DEC, VALS(key_type_vals), 0, NULL, HFILL } },
        { &hf_noise_key_data, { "Key data", "noise.payload.identity_key.data", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_signature, { "Identity signature", "noise.payload.identity_sig", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_sig_valid, { "Signature verified", "noise.payload.signature_verified", FT_BOOLEAN, BASE_NONE, NULL, 0, "Ed25519, secp256k1, ECDSA (P-256/384/521) and RSA identities (libgcrypt)", HFILL } },
        { &hf_noise_muxer, { "Stream muxer", "noise.payload.stream_muxer", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_certhash, { "WebTransport certhash", "noise.payload.webtransport_certhash", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_ciphertext, { "Ciphertext", "noise.ciphertext", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_plaintext, { "Plaintext", "noise.plaintext", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_decrypted, { "Decrypted", "noise.decrypted", FT_BOOLEAN, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_noise_hash, { "Handshake hash (h)", "noise.handshake_hash", FT_BYTES, BASE_NONE, NULL, 0, "Recomputed from the transcript; the key log is searched by it", HFILL } },
        { &hf_noise_early_muxer, { "Muxer (early negotiation)", "noise.early_muxer", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_yamux_version, { "Version", "yamux.version", FT_UINT8, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_yamux_type, { "Type", "yamux.type", FT_UINT8, BASE_DEC, VALS(yamux_type_vals), 0, NULL, HFILL } },
        { &hf_yamux_flags, { "Flags", "yamux.flags", FT_UINT16, BASE_HEX, NULL, 0, NULL, HFILL } },
        { &hf_yamux_flag_syn, { "SYN", "yamux.flags.syn", FT_BOOLEAN, 16, NULL, 0x1, NULL, HFILL } },
        { &hf_yamux_flag_ack, { "ACK", "yamux.flags.ack", FT_BOOLEAN, 16, NULL, 0x2, NULL, HFILL } },
        { &hf_yamux_flag_fin, { "FIN", "yamux.flags.fin", FT_BOOLEAN, 16, NULL, 0x4, NULL, HFILL } },
        { &hf_yamux_flag_rst, { "RST", "yamux.flags.rst", FT_BOOLEAN, 16, NULL, 0x8, NULL, HFILL } },
        { &hf_yamux_stream_id, { "Stream ID", "yamux.stream_id", FT_UINT32, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_yamux_length, { "Length", "yamux.length", FT_UINT32, BASE_DEC, NULL, 0, "Data length, window delta, ping opaque value or GoAway code", HFILL } },
        { &hf_yamux_window_delta, { "Window delta", "yamux.window_delta", FT_UINT32, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_yamux_opaque, { "Opaque", "yamux.opaque", FT_UINT32, BASE_HEX, NULL, 0, NULL, HFILL } },
        { &hf_yamux_goaway, { "GoAway code", "yamux.goaway", FT_UINT32, BASE_DEC, VALS(yamux_goaway_vals), 0, NULL, HFILL } },
        { &hf_yamux_data, { "Data", "yamux.data", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_mplex_stream_id, { "Stream ID", "mplex.stream_id", FT_UINT64, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_mplex_flag, { "Flag", "mplex.flag", FT_UINT8, BASE_DEC, VALS(mplex_flag_vals), 0, NULL, HFILL } },
        { &hf_mplex_length, { "Length", "mplex.length", FT_UINT64, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_mplex_data, { "Data", "mplex.data", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_mplex_name, { "Stream name", "mplex.name", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_id_protocol_version, { "Protocol version", "identify.protocol_version", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_id_agent_version, { "Agent version", "identify.agent_version", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_id_public_key, { "Public key", "identify.public_key", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_id_listen_addr, { "Listen address", "identify.listen_addr", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_id_observed_addr, { "Observed address", "identify.observed_addr", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_id_protocols, { "Protocol", "identify.protocol", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_env_payload_type, { "Envelope payload type", "identify.signed_peer_record.payload_type", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_env_signature, { "Envelope signature", "identify.signed_peer_record.signature", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_rec_peer_id, { "Record peer ID", "identify.signed_peer_record.peer_id", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_rec_seq, { "Record sequence number", "identify.signed_peer_record.seq", FT_UINT64, BASE_DEC, NULL, 0, NULL, HFILL } },
        { &hf_rec_addr, { "Record address", "identify.signed_peer_record.addr", FT_STRING, BASE_NONE, NULL, 0, NULL, HFILL } },
        { &hf_id_signed_record, { "Signed peer record", "identify.signed_peer_record", FT_BYTES, BASE_NONE, NULL, 0, NULL, HFILL } },
    };
    static gint *ett[] = { &ett_libp2p, &ett_ms, &ett_noise, &ett_noise_payload, &ett_yamux, &ett_yamux_flags, &ett_mplex, &ett_identify, &ett_tls_ext };
    static ei_register_info ei[] = {
        { &ei_ms_malformed, { "multistream.malformed", PI_MALFORMED, PI_ERROR, "Malformed multistream-select", EXPFILL } },
        { &ei_noise_malformed, { "noise.malformed", PI_MALFORMED, PI_ERROR, "Malformed Noise message", EXPFILL } },
        { &ei_noise_decrypt, { "noise.decrypt_failed", PI_DECRYPTION, PI_WARN, "Noise message not decrypted", EXPFILL } },
        { &ei_noise_nokeys, { "noise.no_keys", PI_DECRYPTION, PI_NOTE, "No keys for this connection in the key log", EXPFILL } },
        { &ei_yamux_violation, { "yamux.violation", PI_PROTOCOL, PI_ERROR, "yamux protocol violation", EXPFILL } },
        { &ei_mplex_violation, { "mplex.violation", PI_PROTOCOL, PI_ERROR, "mplex protocol violation", EXPFILL } },
        { &ei_stream_malformed, { "libp2p.stream.malformed", PI_MALFORMED, PI_WARN, "Malformed stream message", EXPFILL } },
        { &ei_gap, { "libp2p.gap", PI_SEQUENCE, PI_WARN, "Bytes missing", EXPFILL } },
        { &ei_not_decoded, { "libp2p.not_decoded", PI_UNDECODED, PI_NOTE, "Not decoded", EXPFILL } },
    };

    proto_libp2p = proto_register_protocol("libp2p", "libp2p", "libp2p");
    proto_ms = proto_register_protocol("libp2p multistream-select", "multistream", "multistream");
    proto_noise = proto_register_protocol("libp2p Noise", "Noise", "noise");
    proto_yamux = proto_register_protocol("yamux", "yamux", "yamux");
    proto_mplex = proto_register_protocol("mplex", "mplex", "mplex");
    proto_identify = proto_register_protocol("libp2p identify", "identify", "identify");
    proto_register_field_array(proto_libp2p, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    expert_module_t *em = expert_register_protocol(proto_libp2p);
    expert_register_field_array(em, ei, array_length(ei));

    module_t *m = prefs_register_protocol(proto_libp2p, NULL);
    prefs_register_filename_preference(m, "keylog_file", "Noise key log file",
        "switchyard's key log (--keylog): SWITCHYARD_NOISE and SWITCHYARD_NOISE_HANDSHAKE lines; see wireshark/README.md",
        &pref_keylog, FALSE);

    libp2p_handle = register_dissector("libp2p", dissect_libp2p, proto_libp2p);
    libp2p_tls_ms_handle = register_dissector("libp2p.tls", dissect_tls_ms, proto_libp2p);
    libp2p_tls_yamux_handle = register_dissector("libp2p.tls.yamux", dissect_tls_yamux, proto_libp2p);
    libp2p_tls_mplex_handle = register_dissector("libp2p.tls.mplex", dissect_tls_mplex, proto_libp2p);
    register_init_routine(libp2p_init);
    libp2p_tap = register_tap("libp2p");
}

void proto_reg_handoff_libp2p(void)
{
    heur_dissector_add("tcp", dissect_libp2p_heur, "libp2p over TCP (multistream-select)", "libp2p_tcp", proto_libp2p, HEURISTIC_ENABLE);
    tls_handle = find_dissector("tls");
    /* libp2p specs tls/tls.md: ALPN "libp2p", or a muxer id for early muxer negotiation */
    dissector_add_string("tls.alpn", "libp2p", libp2p_tls_ms_handle);
    dissector_add_string("tls.alpn", YAMUX_ID, libp2p_tls_yamux_handle);
    dissector_add_string("tls.alpn", MPLEX_ID, libp2p_tls_mplex_handle);
    /* libp2p specs tls/tls.md: the libp2p Public Key Extension of the certificate */
    register_ber_oid_dissector("1.3.6.1.4.1.53594.1.1", dissect_tls_libp2p_extension, proto_libp2p, "libp2p Public Key Extension");
    stats_tree_register_plugin("libp2p", "libp2p.streams", "libp2p/Streams by protocol", 0, streams_stats_packet, streams_stats_init, NULL);
}

void plugin_register(void)
{
    static proto_plugin plug;
    plug.register_protoinfo = proto_register_libp2p;
    plug.register_handoff = proto_reg_handoff_libp2p;
    proto_register_plugin(&plug);
}

#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 2)
uint32_t plugin_describe(void)
{
    return WS_PLUGIN_DESC_DISSECTOR;
}
#endif
