"""`dataops env plan | apply`: what an environment file declares (buckets, prefixes, directories, the
database, schemas, the API's read-only role and its grants, the hot store's catalog) against what
exists, and the changes that make what exists match. The one writer of the platform's infrastructure."""
