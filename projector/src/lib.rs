//! Projection framework, ticket read models and the relay to NATS JetStream (DESIGN §3–§5).
