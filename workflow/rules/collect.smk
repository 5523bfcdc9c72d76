# Tables assembled from per-job parts (registered with concatenated_table).
# Included after every family, so that all parts are known here.


rule concat_tables:
    """One table from the per-job tables of a study (one per process, data set or value)."""
    input:
        lambda w: TABLE_PARTS[w.table],
    output:
        "{table}",
    wildcard_constraints:
        table="|".join(re.escape(path) for path in TABLE_PARTS),
    log:
        "logs/concat_tables/{table}.log",
    conda:
        CONDA_ENV,
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/concat_tables.py"
