from django.core.management.base import BaseCommand

from qa.markdown import excerpt, render_markdown
from qa.models import Question
from resources.models import Resource


class Command(BaseCommand):
    help = (
        "Re-render the stored HTML of every question and resource description, "
        "e.g. after a change to the Markdown pipeline. Only rows whose HTML changes are saved."
    )

    def handle(self, *args, **options):
        questions = changed_questions = 0
        for question in Question.objects.order_by("pk").iterator(chunk_size=200):
            questions += 1
            stored = (question.body_html, question.answer_html, question.answer_toc_html, question.excerpt)
            if question.rendered() != stored:
                # Saving the Markdown fields makes save() rebuild the HTML and excerpt.
                question.save(update_fields=["body", "answer"])
                changed_questions += 1

        resources = changed_resources = 0
        for resource in Resource.objects.order_by("pk").iterator(chunk_size=200):
            resources += 1
            html = render_markdown(resource.description)
            if (html, excerpt(html, 160)) != (resource.description_html, resource.summary):
                resource.save(update_fields=["description_html", "summary"])
                changed_resources += 1

        self.stdout.write(
            self.style.SUCCESS(
                f"Checked {questions} questions ({changed_questions} re-rendered) and "
                f"{resources} resources ({changed_resources} re-rendered)."
            )
        )
