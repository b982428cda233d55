#!/usr/bin/env python3
"""A TCP relay on 127.0.0.1 that passes a server's answers on slowly, so a
test can act while a download is under way.

Usage: slow_proxy.py LISTEN_PORT TARGET_PORT BYTES_PER_SECOND
Client -> server bytes pass at once; server -> client bytes at about
BYTES_PER_SECOND per connection, in 8 KiB steps."""
import socket
import sys
import threading
import time

STEP = 8192


def pump(src, dst, rate):
    try:
        while True:
            data = src.recv(STEP)
            if not data:
                break
            dst.sendall(data)
            if rate:
                time.sleep(len(data) / rate)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listen_port, target_port, rate):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(16)
    while True:
        client, _ = ls.accept()
        server = socket.create_connection(("127.0.0.1", target_port))
        threading.Thread(target=pump, args=(client, server, 0), daemon=True).start()
        threading.Thread(target=pump, args=(server, client, rate), daemon=True).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
