{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["src/dns/native/udp_batch.c", "src/dns/native/receivers.c", "src/dns/native/js_thread.c", "src/dns/native/reply_cache.c", "src/dns/native/query.c", "src/dns/native/siphash.c", "src/dns/native/rrl.c", "src/dns/native/negative.c", "src/dns/native/respell.c", "src/dns/native/negative_cover.c", "src/dns/native/plain.c", "src/dns/native/plain_zones.c"],
      "cflags": ["-O2", "-Wall"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    },
    {
      "target_name": "flock",
      "sources": ["src/native/flock.c"],
      "cflags": ["-O2", "-Wall"],
      "conditions": [["OS=='win'", {"type": "none"}]]
    },
    {
      "target_name": "malloc_trim",
      "sources": ["src/native/malloc_trim.c"],
      "cflags": ["-O2", "-Wall"],
      "conditions": [["OS=='win'", {"type": "none"}]]
    }
  ]
}
