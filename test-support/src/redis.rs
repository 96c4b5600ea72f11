//! Starting and finding a redis server for tests (filled in by the redis store work).
