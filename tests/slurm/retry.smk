# A two-job workflow for tests/workflow/test_slurm.py, run with the production profile (--profile slurm):
# `flaky` fails on its first attempt and succeeds when retried, `broken` always fails. It tests
# the profile's retries and failure reporting on a real Slurm without putting any failure hook
# into the pipeline's own rules (which a stray environment variable could then trigger).


rule all:
    input:
        "flaky.txt",
        "broken.txt",


rule flaky:
    output:
        "flaky.txt",
    resources:
        mem_mb=200,
        runtime=5,
        attempt_number=lambda wildcards, attempt: attempt,
    shell:
        "echo 'flaky: attempt {resources.attempt_number}, Slurm job '$SLURM_JOB_ID; "
        "if [ {resources.attempt_number} -lt 2 ]; then echo 'deliberate first-attempt failure'; exit 3; fi; "
        "echo 'attempt {resources.attempt_number}' > {output}"


rule broken:
    output:
        "broken.txt",
    resources:
        mem_mb=200,
        runtime=5,
    shell:
        "echo 'broken: deliberate failure, Slurm job '$SLURM_JOB_ID; exit 3"
