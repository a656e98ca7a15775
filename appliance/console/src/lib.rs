//! The agents' console: queues, case work, knowledge base and the supervisors' dashboard, served through the tunnel.
