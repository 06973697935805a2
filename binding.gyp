{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["src/dns/native/udp_batch.c"],
      "cflags": ["-O2", "-Wall"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    }
  ]
}
