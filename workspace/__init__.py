"""The RIEC workspace: screened, role-based access to hit lists, reviews, requests to
partners and the audit trail, as a server-rendered web application (``riec web``)."""
