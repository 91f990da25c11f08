"""Many simultaneous connections on one nginx."""

import asyncio

from wsclient import assert_alive, chat

CLIENTS = 200
PINGS = 5


def test_200_concurrent_clients_each_get_hello_and_pongs(server):
    workers = server.wait_workers()

    async def client(i):
        async with chat(server.port, "user%d" % i, device="d%d" % i) as (ws, hello):
            assert (hello["user"], hello["device"]) == ("user%d" % i, "d%d" % i)
            for n in range(PINGS):
                await assert_alive(ws, "c%d-%d" % (i, n))
        return True

    async def main():
        return await asyncio.wait_for(
            asyncio.gather(*(client(i) for i in range(CLIENTS))), 60)
    assert asyncio.run(main()) == [True] * CLIENTS
    assert server.worker_pids() == workers, "a worker died and was respawned"
