DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP FUNCTION dealroom_uuid_v7();
