from parallax.cli import console

if __name__ == "__main__":  # not when a batch's worker process imports the main module again
    console()
