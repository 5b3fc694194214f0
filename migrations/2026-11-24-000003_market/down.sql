DROP TABLE sellers;
DROP TABLE vendors;
