//! Who sent a tunnelled connection: the PROXY protocol v2 header the hub writes upstream with the appliance's mTLS identity, and its reader for upstream servers.
