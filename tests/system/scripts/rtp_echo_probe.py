#!/usr/bin/env python3
"""An embassy desk phone's audio, for tests: sends PCMA RTP from 127.0.0.1:PORT to TARGET
(20 ms apart, after WAIT seconds) and prints how many packets came back carrying our SSRC
(echoed by the far phone) before the deadline."""

import socket
import struct
import sys
import time

port, target_host, target_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
wait, count, deadline = float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
SSRC = 0x4C454741

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", port))
sock.setblocking(False)
start = time.monotonic()
echoed = 0
sent = 0
next_send = start + wait
while time.monotonic() < start + deadline:
    now = time.monotonic()
    if sent < count and now >= next_send:
        header = struct.pack("!BBHII", 0x80, 8, sent, sent * 160, SSRC)
        sock.sendto(header + bytes([0xD5]) * 160, (target_host, target_port))
        sent += 1
        next_send += 0.02
    try:
        data, _ = sock.recvfrom(2048)
        if len(data) >= 12 and struct.unpack("!I", data[8:12])[0] == SSRC:
            echoed += 1
    except BlockingIOError:
        time.sleep(0.002)
print(echoed)
