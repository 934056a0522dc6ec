-- The UDP port on which a product listens for signed wake datagrams (at the
-- address its own datagrams come from), if it does; set at registration or
-- by the handshake.
ALTER TABLE products ADD COLUMN udp_port BIGINT CHECK (udp_port BETWEEN 1 AND 65535);
