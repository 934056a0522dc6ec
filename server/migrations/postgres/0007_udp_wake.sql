-- The UDP port on which a product listens for signed wake datagrams (at the
-- address its own datagrams come from), if it does; set at registration or
-- by the handshake.
ALTER TABLE products ADD COLUMN udp_port BIGINT CHECK (udp_port BETWEEN 1 AND 65535);

-- Room on every page of the queue for the next version of a row: the
-- notification note changes no indexed column, so with room it is written
-- as a heap-only tuple (no index entries), and other updates stay near.
ALTER TABLE commands SET (fillfactor = 80);
