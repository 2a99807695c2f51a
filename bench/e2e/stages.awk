# bench/e2e/stages.awk - where cdcsink's share of the latency goes: the
# debug line each batch logs (consumer/pipeline_obs.c, log.level=debug),
# summed up over the batches committed from `from` on (an ISO time,
# "YYYY-MM-DDTHH:MM:SS", compared with each line's own stamp).
#
#   awk -v from=2026-12-05T06:51:17 -f bench/e2e/stages.awk cdcsink-lat.log
#
# Prints each stage's p50 / p90 / p99 / max over the batches, in ms
# ("own": polled->handed less the wait for the applier), and the total
# (the oldest record's Kafka timestamp to COMMIT done) once per change,
# an upper bound of each change's share. Nothing when no line is found.

function num(s, re,    t) { # the first number after re in s, -1 if none
    if (!match(s, re "[-0-9.]+")) return -1
    t = substr(s, RSTART, RLENGTH); sub(re, "", t); return t + 0
}
# values come in 0.1 ms steps: counted in bins of 0.1, walked in order
function add(k, val,    i) {
    i = int(val * 10 + 0.5); h[k, i]++; c[k]++
    if (!(k in top) || i > top[k]) top[k] = i
}
function pct(k, q,    want, i, seen) { # the q quantile of stage k
    want = int(q * c[k]) + 1; if (want > c[k]) want = c[k]
    for (i = 0; i <= top[k]; i++) if ((seen += h[k, i]) >= want) return i / 10
    return top[k] / 10
}

$3 == "batch:" && $1 >= from {
    v["changes"] = num($0, "records[^;]*, ")
    v["age"] = num($0, "oldest record ")
    v["polled->handed"] = num($0, "polled->handed ")
    v["applier busy"] = num($0, "applier busy ")
    v["handed->started"] = num($0, "handed->started ")
    v["apply"] = num($0, "apply ")
    v["redis check"] = num($0, "redis check ")
    v["COMMIT"] = num($0, "COMMIT ")
    v["total"] = num($0, "; ")
    if (v["polled->handed"] < 0) next # applied in place: no stages
    v["own"] = v["polled->handed"] - v["applier busy"]
    nb++
    for (k in v) if (v[k] >= 0) add(k, v[k])
    for (i = 0; i < v["changes"] && v["total"] >= 0; i++) add("per change", v["total"])
}
END {
    if (!nb) exit
    n = split("changes|age|polled->handed|applier busy|own|handed->started|apply|redis check|COMMIT|total", order, "|")
    printf "stage times of %d batches (ms; age: the oldest record's when polled; own: polled->handed less applier busy)\n", nb
    printf "  %-16s %8s %8s %8s %8s\n", "stage", "p50", "p90", "p99", "max"
    for (o = 1; o <= n; o++) {
        k = order[o]
        if (c[k]) printf "  %-16s %8.1f %8.1f %8.1f %8.1f\n", k, pct(k, .5), pct(k, .9), pct(k, .99), top[k] / 10
    }
    if (c["per change"])
        printf "  total per change: p50 %.1f, p99 %.1f ms (its batch's oldest record's: an upper bound)\n", pct("per change", .5), pct("per change", .99)
}
