"""A database connection finds within about a minute that its server vanished without closing
it: its socket probes a silent server, and gives up on what goes unacknowledged; and it asks
its server to do the same with it once open, not in its startup packet."""

import socket

from bpo_common.db import ProbingConnection, create_engine, probe_silent_server
from bpo_devtools.testing import connect_arguments


async def test_the_engine_opens_probing_connections_with_no_setting_a_pooler_would_refuse() -> None:
    given = await connect_arguments(
        create_engine("postgresql+asyncpg://user:secret@127.0.0.1:1/db")
    )

    assert given["connection_class"] is ProbingConnection
    # PgBouncer refuses a startup packet naming a setting it does not know: the server is asked
    # to probe the connection once it is open.
    assert "server_settings" not in given


def test_a_probing_socket_gives_up_on_a_server_silent_for_about_a_minute() -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()) as sock,
    ):
        probe_silent_server(sock)

        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
        tcp = [socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT]
        assert [sock.getsockopt(socket.IPPROTO_TCP, option) for option in tcp] == [30, 10, 3]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 30_000
