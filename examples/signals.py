"""Receiving Unix signals with pike (the seed's *signal* example).

    python examples/signals.py             # sends itself SIGUSR1 and SIGHUP, prints them
    python examples/signals.py --wait      # waits for Ctrl-C / SIGTERM from outside

(Named ``signals.py``, not ``signal.py``: a script's folder comes first on
``sys.path``, so an ``examples/signal.py`` would shadow the stdlib ``signal``.)
"""

from __future__ import annotations

import argparse
import os
import signal

import pike


async def main(wait: bool) -> None:
    if wait:
        with pike.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as receiver:
            print(f"pid {os.getpid()}: waiting for SIGINT (Ctrl-C) or SIGTERM")
            async for signum in receiver:
                print(f"got {signal.Signals(signum).name}, exiting")
                return
    wanted = [signal.SIGUSR1, signal.SIGHUP]
    with pike.open_signal_receiver(*wanted) as receiver:
        for signum in wanted:
            print(f"sending myself {signum.name}")
            os.kill(os.getpid(), signum)
            with pike.fail_after(5):
                got = await receiver.__anext__()
            print(f"received {signal.Signals(got).name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wait", action="store_true")
    pike.run(main, parser.parse_args().wait)
