/* matchctl_prom.c - `matchctl stats --prometheus`: the Stats message in the
 * Prometheus text exposition format (version 0.0.4), for node_exporter's
 * textfile collector or any scraper that reads a file.
 *
 * Every metric is named passerelle_*, has a HELP and a TYPE line, and
 * counters end in _total. Histograms are written with cumulative
 * _bucket{le="..."} lines ending in le="+Inf", then _sum and _count.
 * docs/OPERATIONS.md lists every metric; keep the two in step.
 */
#include "matchctl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Label values are quoted; backslash, double quote and newline escaped. */
static void s_label_value(FILE *out, const char *v)
{
    fputc('"', out);
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(out, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
    fputc('"', out);
}

static void s_head(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP passerelle_%s %s\n# TYPE passerelle_%s %s\n", name, help, name, type);
}

static void s_counter(FILE *out, const char *name, const char *help, uint64_t v)
{
    s_head(out, name, "counter", help);
    fprintf(out, "passerelle_%s %llu\n", name, (unsigned long long)v);
}

static void s_gauge(FILE *out, const char *name, const char *help, double v)
{
    s_head(out, name, "gauge", help);
    fprintf(out, "passerelle_%s %.17g\n", name, v);
}

/* A number in the exposition format: +Inf, or the shortest %g that reads
 * back the same. */
static void s_float(FILE *out, double v)
{
    if (isinf(v))
        fputs(v > 0 ? "+Inf" : "-Inf", out);
    else
        fprintf(out, "%.15g", v);
}

static void s_histogram(FILE *out, const char *name, const char *help,
                        const Passerelle__V1__Histogram *h)
{
    s_head(out, name, "histogram", help);
    if (h == NULL) {
        fprintf(out,
                "passerelle_%s_bucket{le=\"+Inf\"} 0\npasserelle_%s_sum 0\n"
                "passerelle_%s_count 0\n",
                name, name, name);
        return;
    }
    int has_inf = 0;
    for (size_t i = 0; i < h->n_buckets; i++) {
        fprintf(out, "passerelle_%s_bucket{le=\"", name);
        s_float(out, h->buckets[i]->le);
        fprintf(out, "\"} %llu\n", (unsigned long long)h->buckets[i]->count);
        has_inf |= isinf(h->buckets[i]->le) && h->buckets[i]->le > 0;
    }
    if (!has_inf)
        fprintf(out, "passerelle_%s_bucket{le=\"+Inf\"} %llu\n", name,
                (unsigned long long)h->count);
    fprintf(out, "passerelle_%s_sum ", name);
    s_float(out, h->sum);
    fprintf(out, "\npasserelle_%s_count %llu\n", name, (unsigned long long)h->count);
}

/* The events_by_type_status map ("type/status" keys) as one labelled
 * counter. */
static void s_events(FILE *out, const Passerelle__V1__Stats *st)
{
    s_head(out, "events_total", "counter",
           "Events answered since start, by event type and ack status.");
    for (size_t i = 0; i < st->n_events_by_type_status; i++) {
        const char *key = st->events_by_type_status[i]->key;
        const char *slash = strchr(key, '/');
        char type[64];
        size_t tlen = slash ? (size_t)(slash - key) : strlen(key);
        if (tlen >= sizeof type)
            tlen = sizeof type - 1;
        memcpy(type, key, tlen);
        type[tlen] = '\0';
        fputs("passerelle_events_total{type=", out);
        s_label_value(out, type);
        fputs(",status=", out);
        s_label_value(out, slash ? slash + 1 : "");
        fprintf(out, "} %llu\n", (unsigned long long)st->events_by_type_status[i]->value);
    }
}

static void s_maps(FILE *out, const Passerelle__V1__Stats *st)
{
    s_head(out, "event_errors_total", "counter",
           "Events answered REJECTED or RETRY since start, by error code.");
    for (size_t i = 0; i < st->n_rejected_by_error; i++) {
        fputs("passerelle_event_errors_total{code=", out);
        s_label_value(out, st->rejected_by_error[i]->key);
        fprintf(out, "} %llu\n", (unsigned long long)st->rejected_by_error[i]->value);
    }
    s_head(out, "matches_published_total", "counter",
           "Match updates published on the feed since start, by kind.");
    for (size_t i = 0; i < st->n_matches_published_by_kind; i++) {
        fputs("passerelle_matches_published_total{kind=", out);
        s_label_value(out, st->matches_published_by_kind[i]->key);
        fprintf(out, "} %llu\n", (unsigned long long)st->matches_published_by_kind[i]->value);
    }
}

void matchctl_prometheus_print(FILE *out, const Passerelle__V1__Stats *st)
{
    s_head(out, "build_info", "gauge", "The matcherd version, as a label; always 1.");
    fputs("passerelle_build_info{version=", out);
    s_label_value(out, st->version);
    fputs("} 1\n", out);
    s_gauge(out, "uptime_seconds", "Seconds since matcherd started.", (double)st->uptime_s);
    s_gauge(out, "start_time_seconds", "When matcherd started, seconds since the epoch.",
            (double)st->started_at_ms / 1000.0);
    s_gauge(out, "graduates", "Graduates stored, any state.", (double)st->graduates);
    s_gauge(out, "graduates_available", "Graduates stored and available.",
            (double)st->graduates_available);
    s_gauge(out, "vacancies", "Vacancies stored, any state.", (double)st->vacancies);
    s_gauge(out, "vacancies_open", "Vacancies stored and open.", (double)st->vacancies_open);
    s_gauge(out, "event_sequence", "Sequence number of the last event committed (ever).",
            (double)st->events);
    s_gauge(out, "match_sequence", "Sequence number of the last match update (ever).",
            (double)st->match_sequence);
    s_events(out, st);
    s_maps(out, st);
    s_counter(out, "events_superseded_total",
              "Events accepted but older than the stored version, since start.",
              st->events_superseded);
    s_counter(out, "batches_total", "Write transactions committed since start.", st->batches);
    s_counter(out, "ingest_transactions_full_total",
              "Ingest transactions ended at store.txn_max_writes since start (the rest of "
              "their batch followed in the next).",
              st->ingest_transactions_full);
    s_counter(out, "commit_failures_total",
              "Batches whose commit failed (answered RETRY) since start.", st->commit_failures);
    s_gauge(out, "batch_size_max", "Largest batch committed since start, events.",
            (double)st->batch_max);
    s_histogram(out, "batch_size", "Events per committed write transaction.", st->batch_size);
    s_histogram(out, "commit_duration_seconds", "Duration of each write transaction.",
                st->commit_seconds);
    s_gauge(out, "commit_last_seconds", "Duration of the last write transaction.",
            (double)st->commit_us_last / 1e6);
    s_gauge(out, "commit_max_seconds", "Longest write transaction since start.",
            (double)st->commit_us_max / 1e6);
    s_gauge(out, "store_file_bytes", "Size of the store's data file.", (double)st->store_bytes);
    s_gauge(out, "store_used_bytes", "Pages in use in the store's data file, bytes.",
            (double)st->store_used_bytes);
    s_gauge(out, "store_lists_file_bytes", "Size of the ranked lists' file (lists.mdb).",
            (double)st->lists_file_bytes);
    s_gauge(out, "store_lists_used_bytes", "Pages in use in the ranked lists' file, bytes.",
            (double)st->lists_used_bytes);
    s_gauge(out, "store_map_bytes", "Current size of the store's memory map.",
            (double)st->store_map_bytes);
    s_gauge(out, "ranked_lists", "Non-empty ranked lists stored, both sides.",
            (double)st->ranked_lists);
    s_gauge(out, "ranked_list_entries", "Entries in the stored ranked lists (margin included).",
            (double)st->ranked_list_entries);
    s_counter(out, "feed_messages_sent_total", "Topic messages handed to the feed socket.",
              st->feed_messages_sent);
    s_counter(out, "feed_dropped_total",
              "Topic messages the feed socket refused (high-water mark) since start.",
              st->feed_dropped);
    s_gauge(out, "feed_subscriptions", "Distinct topic prefixes subscribed on the feed now.",
            (double)st->subscriptions);
    s_counter(out, "feed_subscribe_messages_total",
              "Subscribe messages seen on the feed socket since start.", st->subscribe_messages);
    s_counter(out, "acks_dropped_total", "Acks whose producer was gone or full, since start.",
              st->acks_dropped);
    s_counter(out, "queries_total", "Query requests received since start.", st->queries);
    s_counter(out, "backups_total", "Backups completed since start.", st->backups);
    s_counter(out, "backup_failures_total", "Backups refused or failed since start.",
              st->backup_failures);
}
