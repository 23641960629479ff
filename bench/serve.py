#!/usr/bin/python3
"""tests/http_server.py with a listen backlog of 128 instead of socketserver's
5, for bench/download.sh: with 8 connections opened at once, a backlog of 5
drops SYNs (ListenOverflows in /proc/net/netstat) and the client's connect
waits for the 1 s SYN retransmit, which would be timed as download time.
Same arguments as tests/http_server.py."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import http_server  # noqa: E402

http_server.Server.request_queue_size = 128
sys.exit(http_server.main())
