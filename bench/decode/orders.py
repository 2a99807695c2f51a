#!/usr/bin/env python3
"""bench/decode/orders.py - writes bench/decode/orders-{on,off,insert}.jsonl:
20 records each (kcat -J lines) of the public.orders stream bench/e2e
generates (bench/e2e/main.c: value_schema, key_json, row_json, cmd_gen),
byte for byte in its format, so bench/decode measures the records the e2e
streams carry: schemas on and off with 14 inserts, 5 updates and 1 delete,
and insert-only schemas off. Run from the repo root after a change to the
e2e generator's format."""
import base64, datetime, json, struct

PREFIX = "bench"
COLS = ('{"type":"int32","optional":false,"field":"id"},'
        '{"type":"int64","optional":true,"field":"account_id"},'
        '{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"12"},"field":"amount"},'
        '{"type":"string","optional":true,"field":"note"},'
        '{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"created_at"},'
        '{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"updated_at"},'
        '{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"attrs"},'
        '{"type":"boolean","optional":true,"field":"active"},'
        '{"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1,"field":"ext_id"},'
        '{"type":"int32","optional":true,"field":"qty"}')
SOURCE = ('{"type":"string","optional":false,"field":"version"},'
          '{"type":"string","optional":false,"field":"connector"},'
          '{"type":"string","optional":false,"field":"name"},'
          '{"type":"int64","optional":false,"field":"ts_ms"},'
          '{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},'
          '{"type":"string","optional":false,"field":"db"},'
          '{"type":"string","optional":true,"field":"sequence"},'
          '{"type":"int64","optional":true,"field":"ts_us"},'
          '{"type":"int64","optional":true,"field":"ts_ns"},'
          '{"type":"string","optional":false,"field":"schema"},'
          '{"type":"string","optional":false,"field":"table"},'
          '{"type":"int64","optional":true,"field":"txId"},'
          '{"type":"int64","optional":true,"field":"lsn"},'
          '{"type":"int64","optional":true,"field":"xmin"},'
          '{"type":"string","optional":true,"field":"origin"},'
          '{"type":"int64","optional":true,"field":"origin_lsn"}')
HEAD = ('{"schema":{"type":"struct","fields":[{"type":"struct","fields":[' + COLS +
        '],"optional":true,"name":"' + PREFIX + '.public.orders.Value","field":"before"},'
        '{"type":"struct","fields":[' + COLS + '],"optional":true,"name":"' + PREFIX +
        '.public.orders.Value","field":"after"},{"type":"struct","fields":[' + SOURCE +
        '],"optional":false,"name":"io.debezium.connector.postgresql.Source","version":1,'
        '"field":"source"},{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},'
        '{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,'
        '"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,'
        '"field":"transaction"},{"type":"string","optional":false,"field":"op"},'
        '{"type":"int64","optional":true,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},'
        '{"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":"' + PREFIX +
        '.public.orders.Envelope","version":2},"payload":')


def decimal(unscaled):
    raw = struct.pack(">q", unscaled)
    s = 0
    while 8 - s > 1 and ((raw[s] == 0 and not raw[s + 1] & 0x80) or
                         (raw[s] == 0xff and raw[s + 1] & 0x80)):
        s += 1
    return base64.b64encode(raw[s:]).decode()


def esc(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')


def ts(us, iso):
    d = datetime.datetime.fromtimestamp(us // 1000000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S" if iso else "%Y-%m-%d %H:%M:%S") + \
        ".%06d%s" % (us % 1000000, "Z" if iso else "")


def row(i, v):
    amount = (i * 7919 + v * 104729) % 100000000
    if (i + v) % 7 == 0:
        amount = -amount
    active = (i + v) % 3 != 0
    note = 'order %d revision %d: "express" delivery, gift wrap, leave at the door' % (i, v)
    attrs = '{"k": %d, "v": %d, "ok": %s, "tags": ["a", "b"]}' % (i, v, "true" if active else "false")
    uuid = "%08x-%04x-4000-8000-%012x" % (i, v & 0xffff, i * 2654435761 & 0xffffffffffff)
    qty = "null" if v % 10 == 9 else str((i * 31 + v) % 1000)
    return ('{"id":%d,"account_id":%d,"amount":"%s","note":"%s","created_at":%d,'
            '"updated_at":"%s","attrs":"%s","active":%s,"ext_id":"%s","qty":%s}' %
            (i, 1000000000000 + i * 37 + v, decimal(amount), esc(note),
             1700000000000000 + i * 1000003, ts((1750000000 + i * 13 + v * 61) * 1000000 + 123456, 1),
             esc(attrs), "true" if active else "false", uuid, qty))


def record(mode, op, i, v, k):
    schemas = mode == "on"
    key = ('{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],'
           '"optional":false,"name":"' + PREFIX + '.public.orders.Key"},"payload":{"id":%d}}' % i
           if schemas else '{"id":%d}' % i)
    tx_ms, lsn, commit, txid = 1764900000000 + i, 30000000 + 400 * i, 29999000 + 400 * i, 1000 + i
    tx_us = tx_ms * 1000 + 123
    val = HEAD if schemas else ""
    if op == "d":
        val += ('{"before":{"id":%d,"account_id":null,"amount":null,"note":null,"created_at":null,'
                '"updated_at":null,"attrs":null,"active":null,"ext_id":null,"qty":null},"after":null' % i)
    else:
        val += '{"before":null,"after":' + row(i, v)
    val += (',"source":{"version":"3.6.1.Final","connector":"postgresql","name":"%s","ts_ms":%d,'
            '"snapshot":"false","db":"source","sequence":"[\\"%d\\",\\"%d\\"]","ts_us":%d,"ts_ns":%d,'
            '"schema":"public","table":"orders","txId":%d,"lsn":%d,"xmin":null,"origin":null,'
            '"origin_lsn":null}' % (PREFIX, tx_ms, commit, lsn, tx_us, tx_us * 1000, txid, lsn))
    if schemas:
        val += ',"transaction":null'
    else:
        val += (',"transaction":{"id":"%d:%d","total_order":%d,"data_collection_order":%d}' %
                (txid, lsn, k + 1, k + 1))
    val += ',"op":"%s","ts_ms":%d,"ts_us":%d,"ts_ns":%d' % (op, tx_ms + 150, tx_us + 150000,
                                                           (tx_us + 150000) * 1000)
    val += "}}" if schemas else "}"
    return json.dumps({"topic": PREFIX + ".public.orders", "partition": 0, "offset": i,
                       "key": key, "payload": val, "headers": []}, separators=(",", ":"))


for mode in ("on", "off", "insert"):
    ops = "c" * 20 if mode == "insert" else "ccucccuccdcuccccuccu"
    with open("bench/decode/orders-%s.jsonl" % mode, "w") as f:
        for n, op in enumerate(ops):
            f.write(record(mode, op, 100000 + n, 1 if op == "c" else 2 + n % 5, n % 4) + "\n")
