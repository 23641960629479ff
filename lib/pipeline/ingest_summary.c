/* ingest_summary as JSON (clipmill-ingest --json). */
#include "ingest.h"

#include <inttypes.h>
#include <stdio.h>

void ingest_summary_print_json(const ingest_summary *s, FILE *f)
{
    fprintf(f,
            "{\"run_id\":%" PRId64 ",\"exit_code\":%d,\"manifest_entries\":%" PRId64 ",\"bad_manifest_lines\":%" PRId64
            ",\"sources_total\":%" PRId64 ",\"sources_done\":%" PRId64 ",\"sources_failed\":%" PRId64
            ",\"sources_rejected\":%" PRId64 ",\"sources_skipped\":%" PRId64 ",\"sources_gave_up\":%" PRId64
            ",\"clips_added\":%" PRId64 ",\"source_seconds\":%.3f,\"wall_seconds\":%.3f"
            ",\"frames_decoded\":%" PRId64 ",\"frames_skipped\":%" PRId64 ",\"speed_x_realtime\":%.2f"
            ",\"downloads_ok\":%" PRId64 ",\"downloads_failed\":%" PRId64 ",\"downloads_resumed\":%" PRId64
            ",\"download_bytes\":%" PRId64 ",\"duplicates\":%" PRId64 "}\n",
            s->run_id, s->exit_code, s->manifest_entries, s->bad_manifest_lines, s->counts.sources_total,
            s->counts.sources_done, s->counts.sources_failed, s->counts.sources_rejected, s->counts.sources_skipped,
            s->sources_gave_up, s->counts.clips_added, s->counts.source_seconds, s->wall_seconds, s->frames_decoded,
            s->frames_skipped, s->wall_seconds > 0 ? s->counts.source_seconds / s->wall_seconds : 0.0, s->downloads_ok,
            s->downloads_failed, s->downloads_resumed, s->download_bytes, s->duplicates);
}
