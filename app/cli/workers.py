"""Several worker processes, each accepting on its own listening socket.

uvicorn's supervisor hands every worker one shared listening socket. Whichever worker's event
loop wakes first accepts every connection then waiting, so the keep-alive connections of a
load balancer (or a benchmark) pile up on one worker: measured with 64 connections at half of
the peak rate, one worker ran at 80 % of a core and the other at 27 %, and the busy one's
queue made the tail latency. Here each worker gets a socket of its own, all bound to the same
address with ``SO_REUSEPORT``, and the kernel spreads new connections over them evenly.

The supervision itself (restarting a worker that dies or hangs, signals, graceful stop) is
uvicorn's. A worker's socket dies with it: the parent keeps no copy once the worker has
started, so no listening socket is ever left without a process accepting on it.
"""

from __future__ import annotations

import inspect
import logging
import socket
import sys
from typing import Any

from uvicorn import Config
from uvicorn.server import Server
from uvicorn.supervisors.multiprocess import Multiprocess

logger = logging.getLogger("uvicorn.error")


def balanced() -> bool:
    """Linux spreads connections over ``SO_REUSEPORT`` sockets; elsewhere the last one bound
    may take them all, so other systems keep uvicorn's shared socket."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound with ``SO_REUSEPORT``, not yet listening: the worker's server listens on it."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class BalancedWorkers(Multiprocess):
    """uvicorn's ``Multiprocess``, each new worker given a new socket of its own."""

    def __init__(self, config: Config) -> None:
        self._host = config.host
        self._port = config.port
        self._handed: list[socket.socket] = []
        # Older uvicorn releases also take the worker's target.
        extra: dict[str, Any] = {}
        if "target" in inspect.signature(Multiprocess.__init__).parameters:
            extra["target"] = Server(config=config).run
        super().__init__(config, sockets=[], **extra)

    @property  # type: ignore[override]
    def sockets(self) -> list[socket.socket]:
        """Read once for every worker uvicorn creates, right before starting it."""
        sock = listening_socket(self._host, self._port)
        if self._port == 0:  # the first bind picked the port; every later one shares it
            self._port = sock.getsockname()[1]
        self._handed.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, _value: list[socket.socket]) -> None:
        """uvicorn's constructor stores a shared list here; each worker gets its own."""

    def init_processes(self) -> None:
        super().init_processes()
        logger.info(
            "%d workers on %s:%d, each accepting on its own socket",
            self.processes_num,
            self._host,
            self._port,
        )
        self._release()

    def keep_subprocess_alive(self) -> None:
        # Called every half second, after the signals (a reload or one more worker starts
        # workers too): every socket handed out since belongs to a started worker.
        super().keep_subprocess_alive()
        self._release()

    def _release(self) -> None:
        """The parent's copies of sockets already handed to started workers: closed, so a
        socket lives exactly as long as its worker."""
        for sock in self._handed:
            sock.close()
        self._handed.clear()
