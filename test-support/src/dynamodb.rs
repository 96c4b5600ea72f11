//! Starting and finding a dynamodb server for tests (filled in by the dynamodb store work).
