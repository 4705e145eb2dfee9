#!/usr/bin/env python3
"""chaos_proxy.py LISTEN_PORT TARGET_PORT SEED [RATE]: a hostile link.

A TCP proxy on 127.0.0.1 that forwards to TARGET_PORT and, for every chunk
in either direction, picks at random (seeded, so a failing run can be
replayed) one of: pass it on; delay it (up to 400 ms); drop the connection;
truncate it (send a prefix, then drop); duplicate it; corrupt one byte.
RATE (default 0.3) is the share of chunks that get something other than
"pass". Whatever the seed, every kind of harm comes early: the 2nd, 4th,
... 10th chunk get drop, corrupt, truncate, duplicate and delay in turn,
so a short run's link is hurt in every way (by chance alone, 30 chunks
escaped both drop and corrupt in about one run in fifty). It prints
"listening" when ready and a count of what it did on SIGTERM. The till
and the operator must cope: the FN's documents arrive exactly once
whatever this does.
"""
import asyncio
import random
import signal
import sys

LISTEN, TARGET, SEED = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
RATE = float(sys.argv[4]) if len(sys.argv) > 4 else 0.3
rng = random.Random(SEED)
done = {"pass": 0, "delay": 0, "drop": 0, "truncate": 0, "duplicate": 0, "corrupt": 0}
first = ["drop", "corrupt", "truncate", "duplicate", "delay"]  # taken by every other chunk


async def pump(reader, writer, peer_writer):
    try:
        while True:
            chunk = await reader.read(4096)
            if not chunk:
                break
            if first and sum(done.values()) % 2 == 1:
                action = first.pop(0)
            else:
                action = "pass" if rng.random() >= RATE else rng.choice(
                    ["delay", "drop", "truncate", "duplicate", "corrupt"])
            done[action] += 1
            if action == "delay":
                await asyncio.sleep(rng.random() * 0.4)
            elif action == "drop":
                break
            elif action == "truncate":
                writer.write(chunk[:rng.randrange(len(chunk))])
                await writer.drain()
                break
            elif action == "duplicate":
                chunk = chunk + chunk
            elif action == "corrupt":
                b = bytearray(chunk)
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
                chunk = bytes(b)
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        for w in (writer, peer_writer):
            try:
                w.close()
            except Exception:
                pass


async def handle(client_reader, client_writer):
    try:
        target_reader, target_writer = await asyncio.open_connection("127.0.0.1", TARGET)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pump(client_reader, target_writer, client_writer),
                         pump(target_reader, client_writer, target_writer))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", LISTEN)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("listening", flush=True)
    async with server:
        await stop.wait()
    print(" ".join(f"{k}={v}" for k, v in done.items()), flush=True)


asyncio.run(main())
