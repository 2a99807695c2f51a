# bench/e2e/report.sh - the report of bench/e2e/run.sh, sourced by it: the
# table (table.txt) and the plot (bench-e2e.png) from results.tsv and the
# figures the parts left in run.sh's variables. Defines functions only.
# shellcheck shell=bash
# shellcheck disable=SC2154 # the variables are run.sh's (set by its parts)

# report_table: $OUT/table.txt from $RESULTS and the latency figures,
# then printed
report_table() {
    {
        echo "# cdcsink e2e benchmark $(date -u '+%Y-%m-%d %H:%M UTC'), $N events per 10-column stream (parts: ${BENCH_ONLY:-all})${BENCH_SET:+; cdcsink --set $BENCH_SET}"
        echo "# $(nproc) cores ($(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/^Mem/ { print $2 }') GiB"
    } >"$OUT/table.txt"
    # the three 10-column streams: cdcsink, the JDBC sink (today's and its
    # best configuration, with and without UNNEST), COPY; x JDBC on cdcsink's
    # line is against the fastest JDBC run that completed, on a JDBC line
    # against that one
    ((THROUGHPUT)) && awk -F '\t' -v confs="$JDBC_CONFIGS" '
        { key = $1 SUBSEP $2; secs[key] = $4; rss[key] = $5; cpu[key] = $6; st[key] = $7; ev[key] = $3 }
        function jline(s, sys, label,   j, x) {
            j = s SUBSEP sys
            if (!(j in st)) return
            x = (st[j] != "failed" && secs[j] > 0 && ceps > 0) ? sprintf("%.1f", ceps / (ev[j] / secs[j])) : "n/a"
            if (st[j] == "ok")
                printf "%-26s %-12s %10d %9.1f %8s %8s %9s\n", "", label, ev[j] / secs[j], secs[j], rss[j], cpu[j], x
            else if (st[j] == "partial")
                printf "%-26s %-12s %10d %9.1f %8s %8s %9s   (stopped at the time cap after %d events)\n", "", label, ev[j] / secs[j], secs[j], rss[j], cpu[j], x, ev[j]
            else
                printf "%-26s %-12s %10s %9s %8s %8s %9s   (task FAILED, see below)\n", "", label, "-", "-", rss[j], cpu[j], "n/a"
        }
        END {
            name["on"] = "mixed, schemas on"; name["off"] = "mixed, schemas off"; name["ins"] = "insert-only, schemas off"
            nc = split(confs, C, " ")
            printf "%-26s %-12s %10s %9s %8s %8s %9s %9s\n", "stream", "system", "events/s", "seconds", "RSS MB", "CPU s", "x JDBC", "x COPY"
            n = split("on off ins", S, " ")
            for (i = 1; i <= n; i++) {
                s = S[i]; c = s SUBSEP "cdcsink"; cp = "copy-" s SUBSEP "copy"
                if (!(c in secs) && !((s SUBSEP "jdbc") in st)) continue
                ceps = (c in secs) ? ev[c] / secs[c] : 0
                jb = ""
                for (k = 1; k <= nc; k++) {
                    j = s SUBSEP (C[k] == "today" ? "jdbc" : "jdbc-" C[k])
                    if ((j in st) && st[j] != "failed" && secs[j] > 0 && (jb == "" || ev[j] / secs[j] > ev[jb] / secs[jb])) jb = j
                }
                jx = (jb != "" && ceps > 0) ? sprintf("%.1f", ceps / (ev[jb] / secs[jb])) : "n/a"
                if (c in secs)
                    printf "%-26s %-12s %10d %9.1f %8s %8s %9s %9.2f\n", name[s], "cdcsink", ceps, secs[c], rss[c], cpu[c], jx, (cp in secs) ? secs[cp] / secs[c] : 0
                else
                    printf "%-26s (cdcsink not run: BENCH_ONLY)\n", name[s]
                for (k = 1; k <= nc; k++)
                    jline(s, C[k] == "today" ? "jdbc" : "jdbc-" C[k], "JDBC " C[k])
                if (cp in secs)
                    printf "%-26s %-12s %10d %9.2f   (rows/s of the %d final rows)\n", "", "COPY", ev[cp] / secs[cp], secs[cp], ev[cp]
            }
        }' "$RESULTS" >>"$OUT/table.txt"
    if has jdbc; then
        {
            echo "JDBC sink 3.6.0.Final configurations (insert.mode=upsert, primary.key.mode=record_key, delete.enabled=true; URL suffix | worker | connector):"
            for v in $JDBC_CONFIGS; do echo "  $v: ${JDBC_CONF[$v]}"; done
            echo "  also looked at: tasks.max (1: one partition), connection.pool.* (one task: one connection), hibernate.* (no batching knob the sink uses)"
            for f in "$OUT"/jdbc-*.failed; do
                [[ -f $f ]] && echo "JDBC sink ${f##*/}: $(cat "$f")"
            done
        } >>"$OUT/table.txt"
    fi
    if has width; then
        awk -F '\t' -v spec="w10:10 columns|w100:100 columns|t1k:10 cols, 1 KB text|t20k:10 cols, 20 KB text" '
            { key = $1 SUBSEP $2; secs[key] = $4; rss[key] = $5; cpu[key] = $6; ev[key] = $3 }
            END {
                print "width: mixed 70/25/5, schemas off, cdcsink only (x COPY: COPY time of the final rows / cdcsink time):"
                printf "%-26s %8s %10s %9s %8s %8s %12s %9s\n", "stream", "events", "events/s", "seconds", "RSS MB", "CPU s", "COPY rows/s", "x COPY"
                n = split(spec, S, "|")
                for (i = 1; i <= n; i++) {
                    split(S[i], kv, ":"); s = kv[1]; c = s SUBSEP "cdcsink"; cp = "copy-" s SUBSEP "copy"
                    if (!(c in secs)) continue
                    printf "%-26s %8d %10d %9.1f %8s %8s %12d %9.2f\n", s " (" kv[2] ")", ev[c], ev[c] / secs[c], secs[c], rss[c], cpu[c],
                        ev[cp] / secs[cp], secs[cp] / secs[c]
                }
            }' "$RESULTS" >>"$OUT/table.txt"
    fi
    if has txn; then
        awk -F '\t' -v tries="$TRIES" '
            $1 ~ /^txn-/ { m = substr($1, 5); secs[m] = $4; rss[m] = $5; cpu[m] = $6; ev[m] = $3; rd[m] = $8 }
            END {
                printf "transactions of 1-20 events over 3 tables with transaction metadata, schemas off, %d events, best of %d per mode (violations: over all its tries):\n", ev["batch"], tries
                printf "%-26s %10s %9s %8s %8s %9s %26s\n", "apply.consistency", "events/s", "seconds", "RSS MB", "CPU s", "x batch", "reader: violations/reads"
                for (k = 1; k <= 2; k++) {
                    m = k == 1 ? "batch" : "transaction"
                    if (!(m in secs)) continue
                    printf "%-26s %10d %9.1f %8s %8s %9.2f %26s\n", m, ev[m] / secs[m], secs[m], rss[m], cpu[m], secs["batch"] / secs[m], rd[m]
                }
            }' "$RESULTS" >>"$OUT/table.txt"
    fi
    if has latency; then
    {
        echo "latency (source commit -> warehouse commit), real Debezium (poll.interval.ms ${BENCH_DBZ_POLL_MS:-50}), $RATE events/s target ($RATE_NOTE), pgbench achieved $achieved tx/s, ${LAT_S}s measured after ${LAT_WARM}s of warm-up:"
        echo "  changes $lat_n  p50 $lat_p50 ms  p99 $lat_p99 ms  max $lat_max ms  (cdcsink RSS ${lat_rss} MB, CPU ${lat_cpu} s)"
        echo "  (the warm-up, not counted above: changes $warm_n  p50 $warm_p50 ms  p99 $warm_p99 ms)"
        echo "  split at Kafka's append time (ms precision): source -> Kafka (Debezium) p50 $dbz_p50 / p99 $dbz_p99 ms; Kafka -> warehouse commit (cdcsink) p50 $sink_p50 / p99 $sink_p99 ms"
        if [[ -n ${LAT_RES[b]:-} ]]; then
            read -r bn b50 b99 bmax brss bcpu _ _ _ bd50 bd99 bk50 bk99 <<<"${LAT_RES[b]}"
            echo "  side by side on the same topic, B = $BENCH_LAT_B${BENCH_LAT_SET_B:+ with $BENCH_LAT_SET_B} (A = this tree's build, the lines above):"
            echo "  B: changes $bn  p50 $b50 ms  p99 $b99 ms  max $bmax ms  (RSS ${brss} MB, CPU ${bcpu} s); Debezium p50 $bd50 / p99 $bd99 ms; cdcsink p50 $bk50 / p99 $bk99 ms"
        fi
        for s in a b; do
            [[ -s $OUT/stages-$s.txt ]] || continue
            echo "  cdcsink $s, $(cat "$OUT/stages-$s.txt")" | sed '2,$s/^/  /'
        done
    } >>"$OUT/table.txt"
    fi
    echo "RSS: VmHWM of the process (JDBC: the Connect worker's JVM, -Xmx1g); CPU: utime+stime of that process only (not PostgreSQL's)" >>"$OUT/table.txt"
    cat "$OUT/table.txt"
}

# report_plot: throughput bars; width and transaction bars; latency over time ($OUT/bench-e2e.png)
report_plot() {
    awk -F '\t' '
        { key = $1 SUBSEP $2; secs[key] = $4; ev[key] = $3; st[key] = $7 }
        function eps(k) { return ((k in secs) && st[k] != "failed" && secs[k] > 0) ? ev[k] / secs[k] : 0 }
        END {
            n = split("on off ins", S, " "); label["on"] = "\"mixed, schemas on\""; label["off"] = "\"mixed, schemas off\""; label["ins"] = "\"insert-only, off\""
            for (i = 1; i <= n; i++) {
                s = S[i]
                if (!((s SUBSEP "cdcsink") in secs) && !((s SUBSEP "jdbc") in st)) continue
                jb = 0; for (k in secs) { split(k, kk, SUBSEP); if (kk[1] == s && kk[2] ~ /^jdbc-/ && eps(k) > jb) jb = eps(k) }
                printf "%s %d %d %d %d\n", label[s], eps(s SUBSEP "cdcsink"), eps(s SUBSEP "jdbc"), jb, eps("copy-" s SUBSEP "copy")
            }
        }' "$RESULTS" >"$OUT/throughput.dat"
    awk -F '\t' '
        { key = $1 SUBSEP $2; secs[key] = $4; ev[key] = $3 }
        function eps(k) { return ((k in secs) && secs[k] > 0) ? ev[k] / secs[k] : 0 }
        END {
            n = split("w10 w100 t1k t20k", S, " ")
            for (i = 1; i <= n; i++)
                if ((S[i] SUBSEP "cdcsink") in secs)
                    printf "\"%s\" %d %d\n", S[i], eps(S[i] SUBSEP "cdcsink"), eps("copy-" S[i] SUBSEP "copy")
            if (("txn-batch" SUBSEP "cdcsink") in secs) printf "\"txn off\" %d 0\n", eps("txn-batch" SUBSEP "cdcsink")
            if (("txn-transaction" SUBSEP "cdcsink") in secs) printf "\"txn on\" %d 0\n", eps("txn-transaction" SUBSEP "cdcsink")
        }' "$RESULTS" >"$OUT/width.dat"
    panels=0
    [[ -s $OUT/throughput.dat ]] && panels=$((panels + 1))
    [[ -s $OUT/width.dat ]] && panels=$((panels + 1))
    has latency && panels=$((panels + 1))
    ((panels > 0)) || { log "table: $OUT/table.txt (nothing to plot)"; return 0; }
    {
        echo "set terminal pngcairo size $((panels * 700)),600 font \",10\""
        echo "set output \"$OUT/bench-e2e.png\""
        echo "set multiplot layout 1,$panels title \"cdcsink e2e, $N events/10-column stream, $(date -u +%Y-%m-%d), $(nproc) cores (shared)\""
        # the key sits under each panel, outside the plot: never on a bar
        echo "set key bmargin center horizontal"
        echo "set grid ytics"
        if [[ -s $OUT/throughput.dat ]]; then
            cat <<GP
set title "throughput (COPY: final rows/s)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "events/s"
set yrange [0:*]
plot "$OUT/throughput.dat" using 2:xtic(1) title "cdcsink", '' using 3 title "JDBC today (0 = failed)", '' using 4 title "JDBC, its fastest other configuration", '' using 5 title "raw COPY"
GP
        fi
        if [[ -s $OUT/width.dat ]]; then
            cat <<GP
set title "width (schemas off); txn off/on = apply.consistency batch/transaction"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "events/s (log)"
set logscale y
set yrange [100:*]
plot "$OUT/width.dat" using 2:xtic(1) title "cdcsink", '' using 3 title "raw COPY (rows/s)"
unset logscale y
GP
        fi
        if has latency; then
            cat <<GP
set title "latency, source commit -> warehouse commit ($RATE ev/s target)"
set style data points
set xlabel "seconds into the run"
set ylabel "ms"
set yrange [0:*]
set xrange [*:*]
plot "$OUT/latency.dat" using 1:2 with dots title "per change (p50 $lat_p50, p99 $lat_p99 ms)"
GP
        fi
        echo "unset multiplot"
    } | gnuplot
    log "table: $OUT/table.txt  plot: $OUT/bench-e2e.png"
}
