-- Queued commands follow their product's mode (commands.wake, see 0010):
-- the queue owns this rule, so it lives with the commands table instead of
-- in the products code that records a handshake. Same transaction as the
-- change of mode, as before.
CREATE TRIGGER commands_follow_mode AFTER UPDATE OF mode ON products
FOR EACH ROW
BEGIN
    UPDATE commands SET wake = CASE WHEN NEW.mode = 'two_way' THEN 1 ELSE 0 END
    WHERE product_id = NEW.id AND state = 'queued';
END;
