"""The console (workbench): a read model of the hub's topics in SQL, and its web side.

``models`` the tables, ``store`` the database and its migrations, ``projection`` records to rows
(pure), ``projector`` the consumer loop that applies them.
"""
